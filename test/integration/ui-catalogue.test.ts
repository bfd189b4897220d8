import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { getPage, postForm, signInToUi } from '../helpers/ui-session.js';

// The catalogue in the web UI over app.request: the products list (search, stock filter,
// paging), a product's page (texts by language, attributes, buyers, bought together, who it is
// recommended to), the recommendations on the customer card, and the code pool on the offer
// page, filled by generating or uploading codes without any JSON.

let h: Harness;
const DAY = 86_400_000;
const ids = new Map<string, number>();

beforeAll(async () => {
  h = await createHarness();
  const filler = Array.from({ length: 52 }, (_, i) => ({
    sku: `FILL-${String(i).padStart(2, '0')}`,
    title: `Filler ${i}`,
    price: 1,
    category: 'filler',
  }));
  const products = await h.post('/v1/products', [
    {
      sku: 'SOFA',
      title: { en: 'Grey sofa', fr: 'Canapé gris' },
      description: { en: 'Three seats', fr: 'Trois places' },
      price: 899,
      category: 'furniture',
      stock: 12,
      colour: 'grey',
    },
    { sku: 'CUSHION', title: 'Wool cushion', price: 45, currency: 'GBP', category: 'textile' },
    { sku: 'THROW', title: 'Linen throw', price: 49, category: 'textile', in_stock: false },
    ...filler,
  ]);
  expect(products.status).toBe(201);
  for (const p of ['ana', 'b1', 'b2']) {
    const res = await h.post('/v1/customers', {
      external_id: p,
      email: `${p}@example.com`,
      first_name: p.toUpperCase(),
      consents: { marketing_email: true },
    });
    ids.set(p, (await json(res)).id);
  }
  let n = 0;
  const line = (c: string, sku: string) => ({
    external_line_id: `l${++n}`,
    customer_external_id: c,
    order_ref: c,
    sku,
    amount: 10,
    purchased_at: new Date(Date.now() - 20 * DAY).toISOString(),
  });
  const bought = await h.post('/v1/purchases', [
    line('b1', 'SOFA'),
    line('b1', 'CUSHION'),
    line('b2', 'SOFA'),
    line('b2', 'CUSHION'),
    line('ana', 'SOFA'),
  ]);
  expect(bought.status).toBe(201);
  const refreshed = await h.post('/v1/recommendations/refresh', { customer_ids: [...ids.values()] });
  expect(refreshed.status).toBe(200);
});
afterAll(async () => {
  await h?.close();
});

describe('who bought a product, and to whom it is recommended (API)', () => {
  it('answers both lists, 404 for an unknown sku, 422 naming a bad limit, 403 for an analyst', async () => {
    const buyers = await json(await h.get('/v1/products/SOFA/buyers'));
    expect(buyers.data.map((b: { external_id: string }) => b.external_id).sort()).toEqual([
      'ana',
      'b1',
      'b2',
    ]);
    expect(buyers.data[0]).toMatchObject({ lines: 1, quantity: 1 });
    const to = await json(await h.get('/v1/products/CUSHION/recommended-to'));
    expect(to.data).toEqual([
      expect.objectContaining({ customer_id: ids.get('ana'), feed: 'bought_together', rank: 1 }),
    ]);
    expect(to.data[0].reason).toContain('sofa');
    expect((await h.get('/v1/products/NOPE/buyers')).status).toBe(404);
    const bad = await h.get('/v1/products/SOFA/recommended-to?limit=0');
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('limit');
    expect((await h.get('/v1/products/SOFA/buyers', { role: 'analyst' })).status).toBe(403);
    const [audited] = await h.db.sql`
      select count(*)::int as n from audit_log where action in ('product.buyers.read', 'product.recommended_to.read')`;
    expect(audited!.n).toBeGreaterThanOrEqual(2);
  });
});

describe('the Products pages', () => {
  it('lists products with price, stock and currency, searches them and pages through them', async () => {
    const marketer = await signInToUi(h, 'marketer');
    const first = await (await getPage(h, '/ui/products', marketer.session)).text();
    expect(first).toContain('href="/ui/products/CUSHION"');
    expect(first).toContain('£45.00');
    expect(first).toContain('€1.00');
    const next = /href="(\/ui\/products\?[^"]*cursor=[^"]+)" id="next-products"/.exec(first)?.[1];
    expect(next).toBeDefined();
    const second = await (await getPage(h, next!.replaceAll('&amp;', '&'), marketer.session)).text();
    expect(second).not.toContain('href="/ui/products/CUSHION"');
    expect(second).toContain('href="/ui/products/SOFA"');
    expect(second).toContain('€899.00');
    expect(second).toContain('12 in stock');
    expect(second).toContain('out of stock');
    expect(
      first.split('<tbody>')[1]!.split('<tr>').length -
        1 +
        second.split('<tbody>')[1]!.split('<tr>').length -
        1,
    ).toBe(55);

    const found = await (await getPage(h, '/ui/products?q=cushion', marketer.session)).text();
    expect(found).toContain('Wool cushion');
    expect(found).not.toContain('Grey sofa');
    const out = await (await getPage(h, '/ui/products?stock=out', marketer.session)).text();
    expect(out).toContain('Linen throw');
    expect(out).not.toContain('Wool cushion');
    const none = await (await getPage(h, '/ui/products?q=nothing-like-this', marketer.session)).text();
    expect(none).toContain('No product matches.');
  });

  it('shows a product’s texts by language, attributes, buyers, co-purchases and who gets it recommended', async () => {
    const marketer = await signInToUi(h, 'marketer');
    const sofa = await (await getPage(h, '/ui/products/SOFA', marketer.session)).text();
    expect(sofa).toContain('<h1>Grey sofa</h1>');
    expect(sofa).toContain('Canapé gris');
    expect(sofa).toContain('Trois places');
    expect(sofa).toMatch(/<dt>colour<\/dt><dd[^>]*>grey<\/dd>/);
    expect(sofa).toContain('3 customers · 3 order lines');
    expect(sofa).toContain(`href="/ui/customers/${ids.get('ana')}"`);
    expect(sofa).toContain('href="/ui/products/CUSHION"');
    const cushion = await (await getPage(h, '/ui/products/CUSHION', marketer.session)).text();
    expect(cushion).toMatch(/id="recommended-to"[\s\S]*ANA[\s\S]*Often bought together, #1/);

    // An analyst sees the counts, not the people.
    const analyst = await signInToUi(h, 'analyst');
    const seen = await (await getPage(h, '/ui/products/SOFA', analyst.session)).text();
    expect(seen).toContain('3 customers');
    expect(seen).toContain('Your role sees how many, not who.');
    expect(seen).not.toContain(`href="/ui/customers/${ids.get('ana')}"`);
    expect((await getPage(h, '/ui/products/NOPE', marketer.session)).status).toBe(404);
  });

  it('shows on the customer card what the customer would get next, and why', async () => {
    const marketer = await signInToUi(h, 'marketer');
    const card = await (await getPage(h, `/ui/customers/${ids.get('ana')}`, marketer.session)).text();
    const section = /<section class="card" id="recommendations"[\s\S]*?<\/section>/.exec(card)?.[0] ?? '';
    expect(section).toContain('Often bought together');
    expect(section).toContain('href="/ui/products/CUSHION"');
    expect(section).toContain('£45.00');
    expect(section).toMatch(/often bought with the Grey sofa/i);
    expect(section).not.toContain('Linen throw');
    expect(section).not.toContain('Grey sofa</a>');
    // Sales staff see the same, without links to pages their role cannot open.
    const sales = await signInToUi(h, 'sales');
    const theirs = await (await getPage(h, `/ui/customers/${ids.get('ana')}`, sales.session)).text();
    expect(theirs).toContain('<strong>Wool cushion</strong>');
    expect(theirs).not.toContain('href="/ui/products/CUSHION"');
  });
});

describe('the code pool on the offer page', () => {
  it('generates a pool, adds given codes, warns when low, and refuses bad input at its field', async () => {
    const offer = await json(await h.post('/v1/offers', { name: 'Cushions', title: '-15 % on cushions' }));
    const marketer = await signInToUi(h, 'marketer');
    const path = `/ui/offers/${offer.id}`;
    const empty = await (await getPage(h, path, marketer.session)).text();
    expect(empty).toContain('No code pool');

    const generated = await postForm(h, `${path}/codes`, marketer.session, {
      _csrf: marketer.csrf,
      mode: 'generate',
      count: '20',
      pattern: 'CUSH-####-####',
      low_at: '',
    });
    expect(generated.status).toBe(303);
    expect(generated.headers.get('location')).toBe(`${path}?codes_added=20#codes`);
    const after = await (await getPage(h, `${path}?codes_added=20`, marketer.session)).text();
    expect(after).toContain('20 codes added.');
    expect(after).toMatch(/<strong>20<\/strong> of 20/);
    const codes = await h.db.sql`select code from offer_codes where offer_id = ${offer.id}`;
    expect(codes.every((c) => /^CUSH-[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(c.code))).toBe(true);

    // Given codes, from the list and from a file (a CSV with a header), duplicates skipped.
    const form = new FormData();
    form.set('_csrf', marketer.csrf);
    form.set('mode', 'upload');
    form.set('codes', 'SHOP-1\nSHOP-2\n');
    form.set('file', new File(['code\nSHOP-3\n"SHOP-4"\nSHOP-1\n'], 'codes.csv', { type: 'text/csv' }));
    const uploaded = await h.app.request(`${path}/codes`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: marketer.session },
      body: form,
    });
    expect(uploaded.status).toBe(303);
    expect(uploaded.headers.get('location')).toContain('codes_added=4');
    const pool = await json(await h.get(`/v1/offers/${offer.id}/codes`));
    expect(pool).toMatchObject({ total: 24, available: 24 });

    // A threshold above what is left warns on the page.
    const low = await postForm(h, `${path}/codes`, marketer.session, {
      _csrf: marketer.csrf,
      mode: 'generate',
      count: '1',
      low_at: '100',
    });
    expect(low.status).toBe(303);
    const warned = await (await getPage(h, path, marketer.session)).text();
    expect(warned).toMatch(/id="pool-warning">Only 25 of 25 codes are left/);

    for (const [fields, field] of [
      [{ mode: 'generate', count: '' }, 'count'],
      [{ mode: 'generate', count: 'lots' }, 'count'],
      [{ mode: 'generate', count: '5', pattern: 'NOHASH' }, 'pattern'],
      [{ mode: 'generate', count: '500', pattern: 'A-#' }, 'pattern'],
      [{ mode: 'upload', codes: '   \n' }, 'codes'],
      [{ mode: 'upload', codes: 'HAS SPACE' }, 'codes'],
    ] as const) {
      const refused = await postForm(h, `${path}/codes`, marketer.session, {
        _csrf: marketer.csrf,
        ...fields,
      });
      expect(refused.status, JSON.stringify(fields)).toBe(422);
      expect(await refused.text(), JSON.stringify(fields)).toMatch(
        new RegExp(`id="f-${field}"[^>]*aria-invalid="true"`),
      );
    }
    expect((await json(await h.get(`/v1/offers/${offer.id}/codes`))).total).toBe(25);

    // An analyst reads the pool, with no forms to fill it.
    const analyst = await signInToUi(h, 'analyst');
    const read = await (await getPage(h, path, analyst.session)).text();
    expect(read).toMatch(/<strong>25<\/strong> of 25/);
    expect(read).not.toContain('id="generate-codes-form"');
  });
});
