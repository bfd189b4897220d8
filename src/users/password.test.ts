import { describe, expect, it } from 'vitest';
import { hashPassword, passwordProblem, verifyPassword } from './password.js';

describe('passwords', () => {
  it('verifies the password a hash was made from, and no other', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', hash)).toBe(false);
    expect(await verifyPassword('anything', null)).toBe(false);
    expect(await verifyPassword('anything', 'md5$abc')).toBe(false);
    // Salted: the same password hashes differently each time.
    expect(await hashPassword('correct horse battery staple')).not.toBe(hash);
  });

  it('refuses short and huge passwords', () => {
    expect(passwordProblem('short')).toContain('at least');
    expect(passwordProblem('x'.repeat(201))).toContain('at most');
    expect(passwordProblem('a long enough passphrase')).toBeUndefined();
  });
});
