import { expect } from 'vitest';
import type { Role } from '../../src/http/roles.js';
import type { Harness } from './harness.js';

/** The `name=value` of a cookie the response sets (not a deletion). */
export const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1);

/**
 * Signs in to the web UI with a key of `role`, through the login form: the session cookie, the
 * CSRF token its forms carry, and the raw Set-Cookie header (for its attributes).
 */
export async function signInToUi(h: Harness, role: Role = 'admin') {
  const form = await h.app.request('/ui/login');
  const login = cookieOf(form, 'offerflow_login')!;
  const res = await h.app.request('/ui/login', {
    method: 'POST',
    headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _login: login.split('=')[1]!, key: await h.keyFor(role), next: '/ui' }),
  });
  expect(res.status).toBe(303);
  const session = cookieOf(res, 'offerflow_session')!;
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('offerflow_session='))!;
  const page = await h.app.request('/ui/segments/new', { headers: { cookie: session } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  return { session, csrf: csrf!, setCookie };
}
