import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), the second factor every authenticator
// app reads from an otpauth:// link. A code of the step before or after is accepted for clocks
// that drift.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const index = ALPHABET.indexOf(ch);
    if (index < 0) throw new Error('not base32');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A new random secret (160 bits), base32 as authenticator apps expect. */
export const newTotpSecret = () => base32Encode(randomBytes(20));

/** The 6-digit code of a secret at a time step. */
export function totpCode(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 15;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, '0');
}

export const totpStep = (now: Date) => Math.floor(now.getTime() / 30_000);

/** Whether a typed code is the secret's at `now` (one step either side). */
export function checkTotp(secret: string, code: string, now: Date): boolean {
  const typed = Buffer.from(code.replace(/\s/g, ''));
  if (typed.length !== 6) return false;
  const step = totpStep(now);
  let ok = false;
  for (const s of [step - 1, step, step + 1]) {
    const expected = Buffer.from(totpCode(secret, s));
    if (timingSafeEqual(expected, typed)) ok = true;
  }
  return ok;
}

/** The otpauth:// link an authenticator app reads (typed in, or from a QR code). */
export const totpUri = (secret: string, email: string) =>
  `otpauth://totp/${encodeURIComponent(`Offerflow:${email}`)}?secret=${secret}&issuer=Offerflow`;
