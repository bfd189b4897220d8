import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInWithKey } from '../helpers/ui-login.js';

// Revenue in several currencies is never added as plain numbers: reports convert it with the
// operator's rates into REPORT_CURRENCY (EUR here) and list each currency beside the total.

let h: Harness;
let campaignId: number;
let offerId: number;
let seq = 0;

beforeAll(async () => {
  h = await createHarness();
  const [o] = await h.db.sql<{ id: number }[]>`
    insert into offers (name, title, category, url) values ('Watch', 'Watch', 'watches', 'https://shop.example/w') returning id`;
  offerId = o!.id;
  const [k] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status, launched_at) values ('Worldwide', 'sent', now()) returning id`;
  campaignId = k!.id;
  // Three buyers, one per currency, each converting on their message's offer link.
  for (const [amount, currency] of [
    [100, 'EUR'],
    [50, 'USD'],
    [20, 'GBP'],
  ] as const) {
    const [c] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email) values (${`fx-${++seq}`}, ${`fx${seq}@example.test`}) returning id`;
    const [m] = await h.db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, offer_ids, status, sent_at)
      values (${campaignId}, ${c!.id}, ${[offerId]}::bigint[], 'sent', now()) returning id`;
    const token = signToken(h.deps.config.OFFERFLOW_SECRET, 'click', {
      messageId: m!.id,
      linkIndex: OFFER_LINK_BASE,
    });
    const res = await h.post(
      '/v1/conversions',
      { token, amount, currency, order_ref: `fx-${seq}` },
      { role: 'integrator' },
    );
    expect(res.status).toBe(201);
  }
});
afterAll(async () => h.close());

const report = async () => json(await h.get(`/v1/reports/campaigns/${campaignId}`, { role: 'analyst' }));

describe('a mixed-currency report', () => {
  it('without rates: only EUR is in the total, every currency is listed with its own figure', async () => {
    const r = await report();
    expect(r.currency).toBe('EUR');
    expect(r.totals).toMatchObject({ conversions: 3, revenue: 100 });
    expect(r.revenue_by_currency).toEqual([
      { currency: 'EUR', revenue: 100, converted: 100 },
      { currency: 'GBP', revenue: 20, converted: null },
      { currency: 'USD', revenue: 50, converted: null },
    ]);
    expect(r.unconverted_currencies).toEqual(['GBP', 'USD']);
    // Never 170, the sum of EUR, USD and GBP as numbers.
    expect(r.offers[0].revenue).toBe(100);
    const { session } = await signInWithKey((p, i) => h.app.request(p, i), await h.keyFor('marketer'));
    const page = await (
      await h.app.request(`/ui/campaigns/${campaignId}`, { headers: { cookie: session! } })
    ).text();
    expect(page).toContain('data-unconverted="GBP,USD"');
    expect(page).toContain('GBP 20.00 · USD 50.00');
    expect(page).toContain('Revenue (EUR)');
  });

  it('with the operator’s rates: everything in EUR, in the campaign, offer and trigger reports and the dashboard', async () => {
    // 1 EUR = 1.25 USD (from a bank feed's base), 1 GBP = 1.2 EUR (one currency against the report's).
    const set = await h.post('/v1/currency-rates', { base: 'EUR', rates: { USD: 1.25 } });
    expect(set.status).toBe(200);
    const gbp = await h.post('/v1/currency-rates', { currency: 'gbp', rate: 1.2 });
    expect(gbp.status).toBe(200);
    const listed = await json(await h.get('/v1/currency-rates', { role: 'analyst' }));
    expect(listed).toMatchObject({
      report_currency: 'EUR',
      data: [
        { base: 'EUR', quote: 'USD', rate: 1.25 },
        { base: 'GBP', quote: 'EUR', rate: 1.2 },
      ],
    });

    const r = await report();
    // 100 EUR + 50 USD / 1.25 + 20 GBP × 1.2 = 100 + 40 + 24.
    expect(r.totals.revenue).toBe(164);
    expect(r.unconverted_currencies).toEqual([]);
    expect(r.revenue_by_currency).toEqual([
      { currency: 'EUR', revenue: 100, converted: 100 },
      { currency: 'GBP', revenue: 20, converted: 24 },
      { currency: 'USD', revenue: 50, converted: 40 },
    ]);

    const offers = await json(await h.get('/v1/reports/offers', { role: 'analyst' }));
    expect(offers.currency).toBe('EUR');
    expect(offers.data.find((o: { offer_id: number }) => o.offer_id === offerId).revenue).toBe(164);

    const series = await json(
      await h.get(`/v1/reports/campaigns/${campaignId}/timeseries?interval=day`, { role: 'analyst' }),
    );
    expect(series.currency).toBe('EUR');
    expect(series.data.reduce((sum: number, b: { revenue: number }) => sum + b.revenue, 0)).toBe(164);

    const { session } = await signInWithKey((p, i) => h.app.request(p, i), await h.keyFor('analyst'));
    const dashboard = await (await h.app.request('/ui', { headers: { cookie: session! } })).text();
    expect(dashboard).toContain('Revenue (EUR)');
    expect(dashboard).toMatch(/<td class="num">164\.00<\/td>/);
    expect(dashboard).not.toContain('data-unconverted');
  });

  it('a pair given from the other side replaces the first, so the two never disagree', async () => {
    await h.post('/v1/currency-rates', { from: 'USD', to: 'EUR', rate: 0.5 });
    const listed = await json(await h.get('/v1/currency-rates'));
    expect(
      listed.data.filter((r: { base: string; quote: string }) => [r.base, r.quote].includes('USD')),
    ).toEqual([expect.objectContaining({ base: 'USD', quote: 'EUR', rate: 0.5 })]);
    expect((await report()).totals.revenue).toBe(100 + 25 + 24);
  });

  it('refuses bad rates naming the field, and an analyst setting them', async () => {
    const cases: [unknown, string][] = [
      [{ base: 'EURO', rates: { USD: 1.1 } }, 'base'],
      [{ base: 'EUR', rates: { USD: 0 } }, 'rates.USD'],
      [{ base: 'EUR', rates: { USD: -2 } }, 'rates.USD'],
      [{ base: 'EUR', rates: {} }, 'rates'],
      [{ base: 'EUR', rates: { EUR: 1 } }, 'rates.EUR'],
      [{ currency: 'EUR', rate: 1 }, 'currency'],
    ];
    for (const [body, path] of cases) {
      const res = await h.post('/v1/currency-rates', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const problem = await json(res);
      expect(
        problem.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    expect(
      (await h.post('/v1/currency-rates', { currency: 'USD', rate: 1 }, { role: 'analyst' })).status,
    ).toBe(403);
    // Nothing above was stored.
    const listed = await json(await h.get('/v1/currency-rates'));
    expect(listed.data).toHaveLength(2);
  });
});
