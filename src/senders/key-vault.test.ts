import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decryptPrivateKey, encryptPrivateKey } from './key-vault.js';

const secret = 'a-secret-of-at-least-thirty-two-characters!';

describe('DKIM key vault', () => {
  it('gives back what it sealed, never the same ciphertext twice, and no plaintext in it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 500 }), (pem) => {
        const a = encryptPrivateKey(secret, pem);
        expect(decryptPrivateKey(secret, a)).toBe(pem);
        expect(encryptPrivateKey(secret, pem)).not.toBe(a);
        if (pem.length >= 8) expect(a).not.toContain(pem);
      }),
    );
  });

  it('refuses another secret and any tampered byte', () => {
    const sealed = encryptPrivateKey(secret, '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    expect(() => decryptPrivateKey(`${secret}x`, sealed)).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    parts[3] = body.toString('base64url');
    expect(() => decryptPrivateKey(secret, parts.join('.'))).toThrow();
    expect(() => decryptPrivateKey(secret, 'v1.nonsense')).toThrow();
  });
});
