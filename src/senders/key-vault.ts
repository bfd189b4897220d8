import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// DKIM private keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from OFFERFLOW_SECRET,
// so a database dump alone does not give away the keys that sign the mail.

const VERSION = 'v1';

function keyOf(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'offerflow', 'dkim-private-key', 32));
}

/** Encrypts a private key (PEM text) as `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
export function encryptPrivateKey(secret: string, pem: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret), iv);
  const body = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** The PEM text back; throws when the secret changed or the value was tampered with. */
export function decryptPrivateKey(secret: string, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not an encrypted key');
  const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
