import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// The web UI through app.request: sign-in, CSRF, roles and form validation. The browser suite
// (test/browser/) drives the same pages in Chromium.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`) && c.length > name.length + 1);

async function signIn(role: 'admin' | 'analyst' | 'sales' = 'admin') {
  const form = await h.app.request('/ui/login');
  const login = cookieOf(form, 'offerflow_login')!;
  const token = login.split('=')[1]!;
  const res = await h.app.request('/ui/login', {
    method: 'POST',
    headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _login: token, key: await h.keyFor(role), next: '/ui' }),
  });
  expect(res.status).toBe(303);
  const session = cookieOf(res, 'offerflow_session')!;
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('offerflow_session='))!;
  const page = await h.app.request('/ui/segments/new', { headers: { cookie: session } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  return { session, csrf: csrf!, setCookie };
}

const post = (path: string, cookie: string, fields: Record<string, string>) =>
  h.app.request(path, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });

describe('sign-in', () => {
  it('sends anyone without a session to the sign-in page', async () => {
    const res = await h.app.request('/ui/customers');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fcustomers');
  });

  it('refuses an unknown key and sets an HttpOnly SameSite=Strict cookie for a good one', async () => {
    const form = await h.app.request('/ui/login');
    const login = cookieOf(form, 'offerflow_login')!;
    const bad = await h.app.request('/ui/login', {
      method: 'POST',
      headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _login: login.split('=')[1]!, key: 'of_nope' }),
    });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('unknown or revoked');
    const { setCookie } = await signIn();
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
  });

  it('refuses a sign-in form posted without its token', async () => {
    const res = await post('/ui/login', '', { key: await h.keyFor('admin') });
    expect(res.status).toBe(403);
  });
});

describe('CSRF and validation', () => {
  it('refuses a form without the CSRF token (403) and saves nothing', async () => {
    const { session } = await signIn();
    const rule = JSON.stringify({ '>': [{ var: 'total_spent' }, 1] });
    const res = await post('/ui/segments', session, { name: 'no token', rule });
    expect(res.status).toBe(403);
    const wrong = await post('/ui/segments', session, { name: 'wrong token', rule, _csrf: 'x'.repeat(43) });
    expect(wrong.status).toBe(403);
    const list = await json(await h.get('/v1/segments'));
    expect(list.data.map((s: { name: string }) => s.name)).not.toContain('no token');
  });

  it('shows bad input at its field and saves nothing', async () => {
    const { session, csrf } = await signIn();
    const res = await post('/ui/segments', session, { _csrf: csrf, name: '', rule: '{"nope": [1]}' });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toMatch(/class="field invalid"/);
    const notJson = await post('/ui/segments', session, { _csrf: csrf, name: 'x', rule: '{bad' });
    expect(notJson.status).toBe(422);
    expect(await notJson.text()).toMatch(/id="f-rule"[^>]*aria-invalid="true"/);
    const list = await json(await h.get('/v1/segments'));
    expect(list.data).toHaveLength(0);
  });

  it('saves a good segment and shows its count', async () => {
    const { session, csrf } = await signIn();
    const res = await post('/ui/segments', session, {
      _csrf: csrf,
      name: 'Everyone',
      rule: JSON.stringify({ '>=': [{ var: 'total_spent' }, 0] }),
    });
    expect(res.status).toBe(303);
    const pageRes = await h.app.request(res.headers.get('location')!, { headers: { cookie: session } });
    expect(pageRes.status).toBe(200);
    expect(await pageRes.text()).toContain('customers now');
  });
});

describe('roles', () => {
  it('keeps an analyst away from customer cards and sends sales staff to customers', async () => {
    const analyst = await signIn('analyst');
    expect((await h.app.request('/ui/customers', { headers: { cookie: analyst.session } })).status).toBe(403);
    const sales = await signIn('sales');
    const home = await h.app.request('/ui', { headers: { cookie: sales.session } });
    expect(home.headers.get('location')).toBe('/ui/customers');
  });
});
