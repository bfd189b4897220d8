import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

// The session cookie carries the API key itself, encrypted (AES-256-GCM under a key derived from
// OFFERFLOW_SECRET): the UI then calls the app's own /v1 routes with it, so every page gets exactly
// the API's validation, roles, transactions and audit. Revoking the key ends the session at once.

export const SESSION_COOKIE = 'offerflow_session';
export const SESSION_HOURS = 12;

export interface Session {
  /** The raw API key. */
  key: string;
  /** Expiry, epoch ms. */
  exp: number;
  /** Random per sign-in; the CSRF token is its HMAC. */
  nonce: string;
}

const derive = (secret: string, purpose: string) =>
  createHash('sha256').update(`${purpose}\0${secret}`).digest();

/** Seals a session into a cookie value. */
export function sealSession(secret: string, session: Session): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(secret, 'ui-session'), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Opens a cookie value; undefined when forged, corrupt or expired. */
export function openSession(secret: string, value: string | undefined, now: number): Session | undefined {
  if (!value) return undefined;
  try {
    const raw = Buffer.from(value, 'base64url');
    if (raw.length < 29) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', derive(secret, 'ui-session'), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    const session = JSON.parse(text) as Session;
    if (typeof session.key !== 'string' || typeof session.nonce !== 'string' || !(session.exp > now)) {
      return undefined;
    }
    return session;
  } catch {
    return undefined;
  }
}

export function newSession(key: string, now: number): Session {
  return { key, exp: now + SESSION_HOURS * 3_600_000, nonce: randomBytes(16).toString('base64url') };
}

/** The CSRF token of a session: bound to it, so a token from another session is refused. */
export function csrfToken(secret: string, session: Pick<Session, 'nonce'>): string {
  return createHmac('sha256', derive(secret, 'ui-csrf')).update(session.nonce).digest('base64url');
}

export function checkCsrf(
  secret: string,
  session: Pick<Session, 'nonce'>,
  token: string | undefined,
): boolean {
  if (!token) return false;
  const expected = Buffer.from(csrfToken(secret, session));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
