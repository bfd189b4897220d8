import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/http/roles.js';
import { runUploadedImport } from '../../src/imports/run.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { cookieOf, signInToUi } from '../helpers/ui-session.js';

// The web UI through app.request: sign-in, CSRF, roles and form validation. The browser suite
// (test/browser/) drives the same pages in Chromium.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

const signIn = (role: Role = 'admin') => signInToUi(h, role);

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

describe('customer card', () => {
  it('shows purchases in the contact history with what was bought, next to the calls', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'card-1', first_name: 'Ada' }));
    await h.post('/v1/purchases', {
      external_line_id: 'card-1-a',
      customer_id: id,
      order_ref: 'ORD-77',
      sku: 'KETTLE-2',
      category: 'kitchen',
      quantity: 2,
      amount: 79.5,
      purchased_at: '2025-06-01T09:00:00Z',
    });
    await h.post(`/v1/customers/${id}/interactions`, {
      kind: 'call',
      text: 'Asked about descaling',
      author: 'sam',
    });
    const sales = await signIn('sales');
    const res = await h.app.request(`/ui/customers/${id}`, { headers: { cookie: sales.session } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const history = html.slice(html.indexOf('id="timeline"'));
    expect(history).toMatch(/class="ev ev-call"/);
    const purchase = /<li class="ev ev-purchase">([\s\S]*?)<\/li>/.exec(history)?.[1] ?? '';
    expect(purchase).toContain('2 × KETTLE-2 kitchen');
    expect(purchase).toContain('79.50 EUR');
    expect(purchase).toContain('order ORD-77');
    expect(history.indexOf('ev-call')).toBeLessThan(history.indexOf('ev-purchase'));
  });
});

describe('offers', () => {
  const offer = (csrf: string, extra: Record<string, string> = {}) => ({
    _csrf: csrf,
    name: 'Garden -20%',
    title: '20% off garden tools',
    text: 'Spring is here',
    image_url: 'https://shop.example/garden.png',
    url: 'https://shop.example/garden',
    code: 'GARDEN20',
    category: 'garden',
    eligibility: JSON.stringify({ '>': [{ var: 'total_spent' }, 100] }),
    score: '',
    priority: '5',
    valid_from: '2026-01-01T00:00',
    valid_to: '2026-12-31T23:59',
    'cap_per_customer.count': '2',
    'cap_per_customer.days': '7',
    global_cap: '1000',
    exclude_if_bought_within_days: '30',
    fallback: 'on',
    ...extra,
  });

  it('creates an offer through the form with every field, and edits it', async () => {
    const { session, csrf } = await signIn('marketer');
    const res = await post('/ui/offers', session, offer(csrf));
    expect(res.status).toBe(303);
    const id = Number(/\/ui\/offers\/(\d+)/.exec(res.headers.get('location')!)?.[1]);
    const saved = await json(await h.get(`/v1/offers/${id}`));
    expect(saved).toMatchObject({
      name: 'Garden -20%',
      code: 'GARDEN20',
      priority: 5,
      score: null,
      valid_from: '2026-01-01T00:00:00.000Z',
      cap_per_customer: { count: 2, days: 7 },
      global_cap: 1000,
      exclude_if_bought_within_days: 30,
      fallback: true,
      eligibility: { '>': [{ var: 'total_spent' }, 100] },
    });
    const edit = await h.app.request(`/ui/offers/${id}`, { headers: { cookie: session } });
    const html = await edit.text();
    expect(html).toContain('value="GARDEN20"');
    expect(html).toContain('hx-post="/ui/rules/test"');
    const tested = await post('/ui/rules/test', session, {
      _csrf: csrf,
      eligibility: JSON.stringify({ '>': [{ var: 'total_spent' }, 100] }),
      test_data: JSON.stringify({ total_spent: 150 }),
    });
    expect(await tested.text()).toMatch(/<code data-result[^>]*>true<\/code>/);
    const list = await h.app.request('/ui/offers', { headers: { cookie: session } });
    expect(await list.text()).toContain(`href="/ui/offers/${id}"`);
    const patched = await post(`/ui/offers/${id}`, session, offer(csrf, { code: '', fallback: '' }));
    expect(patched.status).toBe(303);
    expect(await json(await h.get(`/v1/offers/${id}`))).toMatchObject({ code: null, fallback: false });
  });

  it('re-renders a bad offer with the field marked and saves nothing', async () => {
    const { session, csrf } = await signIn('marketer');
    const before = (await json(await h.get('/v1/offers?limit=1000'))).data.length;
    const res = await post('/ui/offers', session, offer(csrf, { name: 'Bad', url: 'ftp://nope' }));
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toMatch(/id="f-url"[^>]*aria-invalid="true"/);
    expect(html).toContain('must be an http(s) URL');
    const badJson = await post('/ui/offers', session, offer(csrf, { name: 'Bad', eligibility: '{nope' }));
    expect(badJson.status).toBe(422);
    expect(await badJson.text()).toMatch(/id="f-eligibility"[^>]*aria-invalid="true"/);
    const after = (await json(await h.get('/v1/offers?limit=1000'))).data;
    expect(after).toHaveLength(before);
  });

  it('refuses an offer form without the CSRF token', async () => {
    const { session, csrf } = await signIn('marketer');
    const { _csrf, ...fields } = offer(csrf, { name: 'No token' });
    expect(_csrf).toBe(csrf);
    const res = await post('/ui/offers', session, fields);
    expect(res.status).toBe(403);
    const list = await json(await h.get('/v1/offers?limit=1000'));
    expect(list.data.map((o: { name: string }) => o.name)).not.toContain('No token');
  });
});

describe('imports', () => {
  /** Posts the import form as a browser would: the given fields, then the file when there is one. */
  const postImportForm = (session: string, fields: Record<string, string>, file?: File) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    if (file) form.append('file', file);
    return h.app.request('/ui/imports', { method: 'POST', headers: { cookie: session }, body: form });
  };

  it('uploads a CSV through the page, shows its progress and proxies the error report', async () => {
    const { session, csrf } = await signIn('integrator');
    const nav = await h.app.request('/ui/imports', { headers: { cookie: session } });
    expect(nav.status).toBe(200);
    expect(await nav.text()).toContain('href="/ui/imports"');
    const res = await postImportForm(
      session,
      { _csrf: csrf, kind: 'customers', mapping: '' },
      new File(['external_id,email\nc1,a@example.com\n'], 'people.csv', { type: 'text/csv' }),
    );
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    const id = Number(/\/ui\/imports\/(\d+)$/.exec(location)?.[1]);
    const row = await json(await h.get(`/v1/imports/${id}`, { role: 'integrator' }));
    expect(row).toMatchObject({ kind: 'customers', filename: 'people.csv' });
    const pageRes = await h.app.request(location, { headers: { cookie: session } });
    expect(await pageRes.text()).toContain(`hx-get="/ui/imports/${id}/progress"`);
    const report = await h.app.request(`/ui/imports/${id}/errors.csv`, { headers: { cookie: session } });
    expect(report.status).toBe(200);
    expect(await report.text()).toContain('line,column,reason');
  });

  it("lists a finished import's refused rows on its page", async () => {
    const { session, csrf } = await signIn('integrator');
    const res = await postImportForm(
      session,
      { _csrf: csrf, kind: 'customers' },
      new File(['external_id,email\nok-1,ok@example.com\nbad-1,not-an-email\n'], 'p.csv'),
    );
    const location = res.headers.get('location')!;
    await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, Number(location.split('/').pop()));
    const html = await (await h.app.request(location, { headers: { cookie: session } })).text();
    expect(html).toContain('data-status="done"');
    expect(html).toMatch(/<td class="num">3<\/td><td>email<\/td><td>[^<]+<\/td>/);
    // The imports page lists it among the recent ones: its file, status and counts.
    const list = await (await h.app.request('/ui/imports', { headers: { cookie: session } })).text();
    expect(list).toMatch(
      new RegExp(
        `<a href="${location}">p\\.csv</a></td><td>customers</td><td><span class="badge st-done">done</span></td><td class="num">2</td><td class="num">1</td><td class="num">1</td>`,
      ),
    );
  });

  it('previews the head of a chosen file as a fragment, and refuses it without the CSRF header', async () => {
    const { session, csrf } = await signIn('integrator');
    const post = (query: string, body: string, token?: string) =>
      h.app.request(`/ui/imports/preview${query}`, {
        method: 'POST',
        headers: { cookie: session, 'content-type': 'text/csv', ...(token ? { 'x-csrf-token': token } : {}) },
        body,
      });
    const ok = await post('?kind=customers', 'Code client;Courriel\nk1;k1@example.com\n', csrf);
    expect(ok.status).toBe(200);
    const html = await ok.text();
    expect(html).toContain('data-preview="ok"');
    expect(html).toContain('semicolon-separated');
    expect(html).toMatch(/<td>Code client<\/td><td>external_id<\/td>/);
    expect(html).toMatch(/<td class="num">2<\/td><td>k1<\/td><td>k1@example.com<\/td>/);
    expect(html).toContain('Read as customers, semicolon-separated');
    // Kind left to "Detect from the header": the header says purchases.
    const detected = await (
      await post('', 'line_id,client,total,date\nl1,k1,9.90,2024-03-01\n', csrf)
    ).text();
    expect(detected).toContain('Read as purchases, comma-separated');
    const refused = await post('?kind=purchases', 'a,b\n1,2\n', csrf);
    expect(await refused.text()).toMatch(/data-preview="refused"[\s\S]*mapping\.external_line_id/);
    expect((await post('?kind=customers', 'external_id\nk1\n')).status).toBe(403);
  });

  it('asks to confirm a guessed kind, says how many emails a history import would send, and imports once confirmed', async () => {
    const { session, csrf } = await signIn('integrator');
    const csv = 'N° ligne;N° commande;Code client;Montant TTC;Date commande\n1;C-1;k1;9,90;01/03/2024\n';
    const preview = await (
      await h.app.request('/ui/imports/preview', {
        method: 'POST',
        headers: { cookie: session, 'content-type': 'text/csv', 'x-csrf-token': csrf },
        body: csv,
      })
    ).text();
    expect(preview).toContain('data-needs-confirmation');
    expect(preview).toContain('was guessed from the header');
    expect(preview).toContain(
      'This import would send no automation email (1 order(s), 0 from the last 24 hours in the 1 row(s) read).',
    );
    const page = await (await h.app.request('/ui/imports', { headers: { cookie: session } })).text();
    expect(page).toContain('name="triggers"');
    expect(page).toContain('name="confirm"');
    const refused = await postImportForm(session, { _csrf: csrf }, new File([csv], 'erp.csv'));
    expect(refused.status).toBe(422);
    expect(await refused.text()).toMatch(/role="alert"[\s\S]*was guessed from the header/);
    const confirmed = await postImportForm(
      session,
      { _csrf: csrf, confirm: 'true' },
      new File([csv], 'erp.csv'),
    );
    expect(confirmed.status).toBe(303);
  });

  it('pages the recent imports, 20 at a time', async () => {
    const { session } = await signIn('integrator');
    await h.db.sql`
      insert into imports (kind, filename, options, status)
      select 'purchases', 'day-' || i || '.csv', '{}', 'failed' from generate_series(1, 21) i`;
    const first = await (await h.app.request('/ui/imports', { headers: { cookie: session } })).text();
    expect(first).toContain('day-21.csv');
    expect(first).not.toContain('day-1.csv<');
    const older = /href="(\/ui\/imports\?cursor=[^"]+)"/.exec(first)?.[1];
    expect(older).toBeDefined();
    const second = await (
      await h.app.request(older!.replaceAll('&amp;', '&'), { headers: { cookie: session } })
    ).text();
    expect(second).toContain('day-1.csv<');
    expect(second).not.toContain('day-21.csv');
  });

  it('shows a missing file at its field and refuses an upload without the CSRF token', async () => {
    const { session, csrf } = await signIn('integrator');
    const res = await postImportForm(session, { _csrf: csrf, kind: 'customers' });
    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/id="f-file"[^>]*aria-invalid="true"/);
    const refused = await postImportForm(
      session,
      { kind: 'customers' },
      new File(['external_id\nc2\n'], 'x.csv'),
    );
    expect(refused.status).toBe(403);
  });
});

describe('installable web app', () => {
  it('lists PNG icons at 192 and 512 px, served as PNG', async () => {
    const manifest = await json(await h.get('/ui/manifest.webmanifest', { role: null }));
    const pngs = manifest.icons.filter((icon: { type: string }) => icon.type === 'image/png');
    expect(pngs.map((icon: { sizes: string }) => icon.sizes).sort()).toEqual(['192x192', '512x512']);
    for (const icon of pngs) {
      const res = await h.get(icon.src, { role: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect([...bytes.slice(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
    }
  });
});
