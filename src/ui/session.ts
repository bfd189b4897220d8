import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

// The session cookie carries a random token whose session lives in the `sessions` table
// (src/http/sessions.ts): sign-out, revoking the key and idle time end it on the server, so a
// copied cookie stops working too. The UI calls the app's own /v1 routes in process as the
// session's key, so every page gets exactly the API's validation, roles, transactions and audit.

export const SESSION_COOKIE = 'offerflow_session';

/** What a page knows of its session. */
export interface Session {
  id: number;
  /** Random per sign-in; the CSRF token is its HMAC. */
  nonce: string;
}

const derive = (secret: string, purpose: string) =>
  createHash('sha256').update(`${purpose}\0${secret}`).digest();

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
