// The web UI's sign-in as a browser does it, over any transport (app.request in tests, a real
// socket in benchmarks); no test runner needed.

/** The `name=value` of a cookie the response sets (not a deletion). */
export const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1);

type Request = (path: string, init?: RequestInit) => Response | Promise<Response>;

/**
 * Signs in with an API key through the login form, then reads the CSRF token from `csrfPage`:
 * the login's response, the session cookie, its raw Set-Cookie header and the token.
 */
export async function signInWithKey(request: Request, key: string, csrfPage = '/ui') {
  const form = await request('/ui/login');
  const login = cookieOf(form, 'offerflow_login')!;
  const res = await request('/ui/login', {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _login: login.split('=')[1]!, key, next: '/ui' }),
  });
  const session = cookieOf(res, 'offerflow_session');
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('offerflow_session='));
  const page = session ? await request(csrfPage, { headers: { cookie: session } }) : undefined;
  const csrf = page && /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  return { status: res.status, session, setCookie, csrf };
}
