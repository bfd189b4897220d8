import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoProportionZTest } from '../../src/reports/stats.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let campaignId: number;
let o1: number;
let o2: number;

const DAY1 = '2024-03-01T12:00:00Z';
const DAY2 = '2024-03-02T12:00:00Z';
const DAY3 = '2024-03-03T12:00:00Z';

/**
 * Variant A: 10 sent (+1 failed, not counted). a1 bounced; a2 opened twice and clicked O1; a3
 * opened; a4 clicked O2 without the pixel (a click is an open); a5 only an Apple prefetch; a6
 * opened and converted 30 on O1; a7 only a scanner click.
 * Variant B: 10 sent. b1..b5 opened; b1..b4 clicked O1; b1 converted 20.5 on O1, b2 converted 10.
 */
beforeAll(async () => {
  h = await createHarness();
  const sql = h.db.sql;
  const offerRows = await sql<{ id: number }[]>`
    insert into offers (name, title, category) values ('@SUM(1+1)', 'One', 'shoes'), ('Plain', 'Two', 'garden')
    returning id`;
  o1 = offerRows[0]!.id;
  o2 = offerRows[1]!.id;
  const [campaignRow] = await sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('=HYPERLINK("http://evil")', 'sent') returning id`;
  campaignId = campaignRow!.id;
  const customers = await sql<{ id: number }[]>`
    insert into customers (external_id) select 'r' || g from generate_series(1, 21) g returning id`;
  const msg: Record<string, number> = {};
  for (let i = 0; i < 21; i++) {
    const key = i < 10 ? `a${i + 1}` : i < 20 ? `b${i - 9}` : 'failed';
    const variant = key.startsWith('b') ? 'B' : 'A';
    const offers = variant === 'A' ? [o1, o2] : [o1];
    const [row] = await sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, variant, offer_ids, status, sent_at)
      values (${campaignId}, ${customers[i]!.id}, ${variant}, ${offers}::bigint[],
              ${key === 'failed' ? 'failed' : 'sent'}, ${key === 'failed' ? null : '2024-03-01T10:15:00Z'})
      returning id`;
    msg[key] = row!.id;
  }
  const ev = async (
    key: string,
    kind: string,
    at: string,
    extra: { machine?: boolean; offer?: number; revenue?: number } = {},
  ) =>
    sql`insert into contact_events (customer_id, kind, message_id, campaign_id, offer_id, machine, data, at)
        select customer_id, ${kind}, id, campaign_id, ${extra.offer ?? null}, ${extra.machine ?? false},
               ${sql.json(extra.revenue === undefined ? {} : { revenue: extra.revenue, currency: 'EUR' })}, ${at}
        from messages where id = ${msg[key]!}`;
  await ev('a1', 'bounced', DAY1);
  await ev('a2', 'opened', DAY1);
  await ev('a2', 'opened', DAY1);
  await ev('a2', 'clicked', DAY2, { offer: o1 });
  await ev('a3', 'opened', DAY1);
  await ev('a4', 'clicked', DAY2, { offer: o2 });
  await ev('a5', 'opened', DAY1, { machine: true });
  await ev('a6', 'opened', DAY1);
  await ev('a6', 'converted', DAY3, { offer: o1, revenue: 30 });
  await ev('a7', 'clicked', DAY2, { offer: o1, machine: true });
  for (const b of ['b1', 'b2', 'b3', 'b4', 'b5']) await ev(b, 'opened', DAY1);
  for (const b of ['b1', 'b2', 'b3', 'b4']) await ev(b, 'clicked', DAY2, { offer: o1 });
  await ev('b1', 'converted', DAY3, { offer: o1, revenue: 20.5 });
  await ev('b2', 'converted', DAY3, { revenue: 10 });
});
afterAll(async () => h.close());

const metrics = (c: {
  sent: number;
  delivered: number;
  bounced: number;
  opens: number;
  clicks: number;
  conversions: number;
  revenue: number;
}) => ({
  ...c,
  open_rate: c.opens / c.delivered,
  click_rate: c.clicks / c.delivered,
  conversion_rate: c.conversions / c.delivered,
  revenue_per_recipient: c.revenue / c.sent,
});

describe('campaign report', () => {
  it('matches a hand computation: totals, variants, offers and the A/B test', async () => {
    const res = await h.get(`/v1/reports/campaigns/${campaignId}`, { role: 'analyst' });
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report.totals).toMatchObject(
      metrics({ sent: 20, delivered: 19, bounced: 1, opens: 9, clicks: 6, conversions: 3, revenue: 60.5 }),
    );
    expect(report.variants).toEqual([
      expect.objectContaining({
        variant: 'A',
        ...metrics({ sent: 10, delivered: 9, bounced: 1, opens: 4, clicks: 2, conversions: 1, revenue: 30 }),
        click_to_open_rate: 0.5,
      }),
      expect.objectContaining({
        variant: 'B',
        ...metrics({
          sent: 10,
          delivered: 10,
          bounced: 0,
          opens: 5,
          clicks: 4,
          conversions: 2,
          revenue: 30.5,
        }),
      }),
    ]);
    expect(report.offers).toEqual([
      expect.objectContaining({
        offer_id: o1,
        name: '@SUM(1+1)',
        sent: 20,
        delivered: 19,
        opens: 9,
        clicks: 5,
        conversions: 2,
        revenue: 50.5,
      }),
      expect.objectContaining({
        offer_id: o2,
        name: 'Plain',
        sent: 10,
        delivered: 9,
        opens: 4,
        clicks: 1,
        conversions: 0,
        revenue: 0,
      }),
    ]);
    const test = twoProportionZTest(4, 10, 2, 9)!;
    expect(report.ab).toEqual({
      metric: 'click',
      confidence: 0.95,
      leader: 'B',
      runner_up: 'A',
      z: test.z,
      p_value: test.p_value,
      winner: null,
    });
    expect(test.p_value).toBeGreaterThan(0.05);
  });

  it('counts machine events only when asked', async () => {
    const report = await json(await h.get(`/v1/reports/campaigns/${campaignId}?include_machine=true`));
    // a5's prefetch becomes an open; a7's scanner click an open and a click.
    expect(report.totals).toMatchObject({ opens: 11, clicks: 7 });
  });

  it('exports CSV with formula injection neutralized', async () => {
    const res = await h.get(`/v1/reports/campaigns/${campaignId}?format=csv`);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text()).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'section,key,name,sent,delivered,bounced,opens,clicks,conversions,revenue,open_rate,click_rate,click_to_open_rate,conversion_rate,revenue_per_recipient,customers,lift_absolute,lift_relative,lift_ci95_low,lift_ci95_high,revenue_lift_absolute,revenue_lift_ci95_low,revenue_lift_ci95_high,verdict',
    );
    expect(lines[1]).toMatch(/^total,,"'=HYPERLINK\(""http:\/\/evil""\)",20,19,1,9,6,3,60.5,/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^offer,${o1},'@SUM\\(1\\+1\\),20,`)));
    const viaAccept = await h.get(`/v1/reports/campaigns/${campaignId}`, { headers: { accept: 'text/csv' } });
    expect(await viaAccept.text()).toBe(`${lines.join('\n')}\n`);
  });

  it('answers 404 for an unknown campaign and 403 to roles without reports', async () => {
    expect((await h.get('/v1/reports/campaigns/987654')).status).toBe(404);
    expect((await h.get(`/v1/reports/campaigns/${campaignId}`, { role: 'integrator' })).status).toBe(403);
    expect((await h.get(`/v1/reports/campaigns/${campaignId}?ab_metric=revenue`)).status).toBe(422);
  });
});

describe('timeseries and offers', () => {
  it('buckets a campaign by day (UTC)', async () => {
    const res = await h.get(`/v1/reports/campaigns/${campaignId}/timeseries?interval=day`);
    const body = await json(res);
    expect(body.data).toEqual([
      {
        bucket: '2024-03-01T00:00:00.000Z',
        sent: 20,
        opens: 8,
        clicks: 0,
        bounces: 1,
        conversions: 0,
        revenue: 0,
        unsubscribes: 0,
      },
      {
        bucket: '2024-03-02T00:00:00.000Z',
        sent: 0,
        opens: 6,
        clicks: 6,
        bounces: 0,
        conversions: 0,
        revenue: 0,
        unsubscribes: 0,
      },
      {
        bucket: '2024-03-03T00:00:00.000Z',
        sent: 0,
        opens: 0,
        clicks: 0,
        bounces: 0,
        conversions: 3,
        revenue: 60.5,
        unsubscribes: 0,
      },
    ]);
    const hourly = await json(await h.get(`/v1/reports/campaigns/${campaignId}/timeseries?interval=hour`));
    expect(hourly.data[0]).toMatchObject({ bucket: '2024-03-01T10:00:00.000Z', sent: 20 });
    const csv = await (await h.get(`/v1/reports/campaigns/${campaignId}/timeseries?format=csv`)).text();
    expect(csv.split('\n')[1]).toBe('2024-03-01T00:00:00.000Z,20,8,0,1,0,0,0');
  });

  it('reports each offer across campaigns', async () => {
    const body = await json(await h.get('/v1/reports/offers', { role: 'marketer' }));
    expect(body).toEqual({
      currency: 'EUR',
      revenue_by_currency: [{ currency: 'EUR', revenue: 50.5, converted: 50.5 }],
      unconverted_currencies: [],
      data: [
        {
          offer_id: o1,
          name: '@SUM(1+1)',
          category: 'shoes',
          campaigns: 1,
          shown: 20,
          clicks: 5,
          conversions: 2,
          revenue: 50.5,
          click_rate: 0.25,
          conversion_rate: 0.1,
        },
        {
          offer_id: o2,
          name: 'Plain',
          category: 'garden',
          campaigns: 1,
          shown: 10,
          clicks: 1,
          conversions: 0,
          revenue: 0,
          click_rate: 0.1,
          conversion_rate: 0,
        },
      ],
      next_cursor: null,
    });
    const csv = await (await h.get('/v1/reports/offers?format=csv')).text();
    expect(csv).toContain(`\n${o1},'@SUM(1+1),shoes,1,20,5,2,50.5,0.25,0.1\n`);
  });
});
