import { expect } from 'vitest';
import type { Role } from '../../src/http/roles.js';
import type { Harness } from './harness.js';
import { signInWithKey } from './ui-login.js';

export { cookieOf } from './ui-login.js';

/**
 * Signs in to the web UI with a key of `role`, through the login form: the session cookie, the
 * CSRF token its forms carry, and the raw Set-Cookie header (for its attributes).
 */
export async function signInToUi(h: Harness, role: Role = 'admin') {
  const signedIn = await signInWithKey(
    (path, init) => h.app.request(path, init),
    await h.keyFor(role),
    '/ui/segments/new',
  );
  expect(signedIn.status).toBe(303);
  return { session: signedIn.session!, csrf: signedIn.csrf!, setCookie: signedIn.setCookie! };
}

/** Posts a UI form as a browser does (urlencoded fields), signed in with `session`. */
export const postForm = (h: Harness, path: string, session: string, fields: Record<string, string>) =>
  h.app.request(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });

/** Opens a UI page signed in with `session`. */
export const getPage = (h: Harness, path: string, session: string) =>
  h.app.request(path, { headers: { cookie: session } });
