import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

// Passwords are hashed with scrypt (memory-hard, in node:crypto: no native add-on to build).
// N = 2^15, r = 8 takes 32 MiB and tens of milliseconds per guess. The parameters travel in the
// stored string, so raising them later leaves old hashes verifiable.

const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** Shortest password accepted: length is what makes a password hard to guess. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest accepted: hashing a megabyte per attempt would be a denial of service. */
export const MAX_PASSWORD_LENGTH = 200;

const derive = (password: string, salt: Buffer, params: { N: number; r: number; p: number }) =>
  new Promise<Buffer>((resolve, reject) => {
    const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 };
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });

/** A self-describing scrypt hash of a password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether a password matches a stored hash (constant time in the hash). */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored || password.length > MAX_PASSWORD_LENGTH) return false;
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Why a new password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

let dummy: Promise<string> | undefined;
/**
 * A hash to verify against when no user matches, so a wrong email costs as long as a wrong
 * password. Made on first use: the Workers runtime allows no random values at import time.
 */
export const dummyHash = () => {
  dummy ??= hashPassword(randomBytes(16).toString('hex'));
  return dummy;
};
