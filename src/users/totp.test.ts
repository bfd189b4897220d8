import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, checkTotp, totpCode } from './totp.js';

describe('TOTP', () => {
  it('gives RFC 6238’s SHA-1 test vectors (last 6 digits)', () => {
    const secret = base32Encode(Buffer.from('12345678901234567890'));
    expect(totpCode(secret, Math.floor(59 / 30))).toBe('287082');
    expect(totpCode(secret, Math.floor(1111111109 / 30))).toBe('081804');
    expect(totpCode(secret, Math.floor(20000000000 / 30))).toBe('353130');
  });

  it('accepts the code of the step before and after, not two steps away', () => {
    const secret = base32Encode(Buffer.from('12345678901234567890'));
    const now = new Date(1111111109_000);
    expect(checkTotp(secret, '081804', now)).toBe(true);
    expect(checkTotp(secret, totpCode(secret, Math.floor(1111111109 / 30) + 1), now)).toBe(true);
    expect(checkTotp(secret, totpCode(secret, Math.floor(1111111109 / 30) + 2), now)).toBe(false);
    expect(checkTotp(secret, '12345', now)).toBe(false);
  });

  it('decodes what it encodes, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect([...base32Decode(base32Encode(Buffer.from(bytes)))]).toEqual([...bytes]);
      }),
    );
  });
});
