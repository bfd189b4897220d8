import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { PRODUCT_LINK_BASE } from '../../src/tracking/links.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { getPage, signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// Recommended products through a campaign, the real workers and an SMTP sink: the products
// block's links are tracked per product, a click names the sku, a purchase of a recommended
// sku is a recommendation conversion, and the campaign report shows each product's figures.

let h: Harness;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
const DAY = 86_400_000;
const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

beforeAll(async () => {
  h = await createHarness();
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: WORKER_ROLES,
    env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '300', SEND_CONCURRENCY: '5' },
    logger: h.deps.logger,
  });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const section = (text: string) =>
  `<mj-section><mj-column><mj-text>${text}</mj-text></mj-column></mj-section>`;

/** The tracked links of a mail's HTML, each once, in order. */
function trackedLinks(mail: ParsedMail): string[] {
  const hrefs = [...String(mail.html).matchAll(/href="([^"]*\/t\/c\/[^"]+)"/g)].map((m) => m[1]!);
  return [...new Set(hrefs)];
}

describe('recommendation attribution', () => {
  let campaignId: number;
  let customerId: number;

  it('sends tracked product links, records the clicked sku and converts a purchase of it', async () => {
    await h.post('/v1/products', [
      {
        sku: 'SOFA',
        title: 'Grey sofa',
        price: 899,
        category: 'furniture',
        url: 'https://shop.example/sofa',
      },
      {
        sku: 'CUSHION',
        title: 'Wool cushion',
        price: 45,
        category: 'textile',
        url: 'https://shop.example/cushion',
      },
      {
        sku: 'LAMP',
        title: 'Brass lamp',
        price: 120,
        category: 'lighting',
        url: 'https://shop.example/lamp',
      },
    ]);
    const ids = new Map<string, number>();
    for (const p of ['buyer', 'b1', 'b2']) {
      const res = await h.post('/v1/customers', {
        external_id: p,
        email: `${p}@example.com`,
        locale: 'en-GB',
        consents: { marketing_email: true },
      });
      ids.set(p, (await json(res)).id);
    }
    customerId = ids.get('buyer')!;
    let n = 0;
    const line = (c: string, sku: string, amount: number, at: Date, order = c) => ({
      external_line_id: `l${++n}`,
      customer_external_id: c,
      order_ref: order,
      sku,
      amount,
      purchased_at: at.toISOString(),
    });
    const past = new Date(Date.now() - 20 * DAY);
    const history = await h.post('/v1/purchases', [
      ...['b1', 'b2'].flatMap((c) => [line(c, 'SOFA', 899, past), line(c, 'CUSHION', 45, past)]),
      line('buyer', 'SOFA', 899, past),
    ]);
    expect(history.status).toBe(201);
    expect((await h.post('/v1/recommendations/refresh', { customer_ids: [...ids.values()] })).status).toBe(
      200,
    );

    const template = await json(
      await h.post('/v1/templates', {
        name: 'Goes with your sofa',
        subject: 'Goes with your sofa',
        mjml: `<mjml><mj-body>${section('{{> products feed="bought_together" count=2}}')}${section('<a href="{{unsubscribe_url}}">unsubscribe</a>')}</mj-body></mjml>`,
      }),
    );
    const segment = await json(
      await h.post('/v1/segments', { name: 'buyer', rule: { '==': [{ var: 'external_id' }, 'buyer'] } }),
    );
    const campaign = await json(
      await h.post('/v1/campaigns', {
        name: 'Recommended',
        segment_id: segment.id,
        template_id: template.id,
        offers_per_email: 0,
        from: { address: 'shop@shop.example' },
      }),
    );
    campaignId = campaign.id;
    expect((await h.post(`/v1/campaigns/${campaignId}/launch`)).status).toBe(200);
    await until(
      async () => (await json(await h.get(`/v1/campaigns/${campaignId}`))).status === 'sent',
      60_000,
    );

    const mails = await Promise.all(sink.messages.map((raw) => simpleParser(raw)));
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.html).toContain('Wool cushion');
    // The product's own url is only behind the tracked link.
    expect(mail.html).not.toContain('href="https://shop.example/cushion"');
    const links = trackedLinks(mail);
    expect(links).toHaveLength(1);

    // A click a few seconds after sending reads as a link scanner's: the mail went out earlier.
    await h.db
      .sql`update messages set sent_at = sent_at - interval '1 hour' where campaign_id = ${campaignId}`;
    const click = await h.get(new URL(links[0]!).pathname, {
      role: null,
      headers: { 'user-agent': BROWSER },
    });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/cushion');
    await flushTrackingEvents(h.deps);
    const [product] = await h.db.sql`select id from products where sku = 'CUSHION'`;
    const clicks = await h.db.sql`
      select offer_id, machine, data from contact_events where campaign_id = ${campaignId} and kind = 'clicked'`;
    expect(clicks).toHaveLength(1);
    expect(clicks[0]).toMatchObject({
      offer_id: null,
      machine: false,
      data: {
        link: PRODUCT_LINK_BASE,
        url: 'https://shop.example/cushion',
        sku: 'CUSHION',
        product_id: product!.id,
        feed: 'bought_together',
      },
    });

    // A purchase of the recommended sku, and one of a product the mail did not show.
    const now = new Date();
    const bought = await h.post('/v1/purchases', [
      line('buyer', 'CUSHION', 45, now, 'o-new'),
      line('buyer', 'LAMP', 120, now, 'o-new'),
    ]);
    expect(bought.status).toBe(201);
    const conversions = await h.db.sql`
      select data from contact_events where campaign_id = ${campaignId} and kind = 'converted'
      order by data ->> 'sku'`;
    expect(conversions.map((c) => c.data)).toEqual([
      expect.objectContaining({
        sku: 'CUSHION',
        touch: 'clicked',
        recommendation: { feed: 'bought_together', rank: 1 },
      }),
      expect.not.objectContaining({ recommendation: expect.anything() }),
    ]);
    expect(conversions[1]!.data.sku).toBe('LAMP');
  });

  it('shows per-product clicks, conversions and revenue in the campaign report', async () => {
    const report = await json(await h.get(`/v1/reports/campaigns/${campaignId}`));
    expect(report.recommendations.products).toEqual([
      expect.objectContaining({
        sku: 'CUSHION',
        title: 'Wool cushion',
        shown: 1,
        clicks: 1,
        conversions: 1,
        revenue: 45,
        click_rate: 1,
        conversion_rate: 1,
      }),
    ]);
    expect(report.recommendations.totals).toEqual({ clicks: 1, conversions: 1, revenue: 45 });
    // Both lines converted the message; only the recommended one counts as a recommendation's.
    expect(report.totals.conversions).toBe(1);
    expect(report.totals.revenue).toBe(165);

    const csv = await (await h.get(`/v1/reports/campaigns/${campaignId}?format=csv`)).text();
    expect(csv).toMatch(/^recommended_product,CUSHION,Wool cushion,1,/m);

    // The campaign's report in the UI has the same figures.
    const ui = await signInToUi(h, 'analyst');
    const html = await (await getPage(h, `/ui/campaigns/${campaignId}/report`, ui.session)).text();
    expect(html).toMatch(/<h3>Recommended products<\/h3>[\s\S]*Wool cushion[\s\S]*45\.00/);
  });

  it('refuses a product link whose token was tampered with, recording nothing', async () => {
    const [m] = await h.db.sql`select id from messages where campaign_id = ${campaignId}`;
    const raw = sink.messages[0]!;
    const link = trackedLinks(await simpleParser(raw))[0]!;
    const token = new URL(link).pathname.split('/t/c/')[1]!;
    // Another product position on the same message, with the MAC of the first: refused.
    const forged = `${token.slice(0, 8)}${token[8] === 'A' ? 'B' : 'A'}${token.slice(9)}`;
    const res = await h.get(`/t/c/${forged}`, { role: null, headers: { 'user-agent': BROWSER } });
    expect(res.status).toBe(404);
    await flushTrackingEvents(h.deps);
    const [{ n }] = (await h.db.sql`
      select count(*)::int as n from contact_events where message_id = ${m!.id} and kind = 'clicked'`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(1);
    expect(customerId).toBeGreaterThan(0);
  });
});
