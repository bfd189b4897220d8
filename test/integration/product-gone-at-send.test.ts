import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers, waitForCampaign } from '../helpers/sending-workers.js';
import { getPage, signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// A product that goes out of stock between planning and sending, end to end (HTTP, the real
// workers, an SMTP sink, the mails read back with mailparser): the campaign is planned while
// the product is each recipient's first recommendation and the subject of their offer; the
// sender then finds it gone, so the mail shows neither it nor its offer (the next eligible offer
// takes the place, the products block the next product), the `sent` event and the ledger say
// so, and the campaign's report tells the marketer why the offer was replaced.

let h: Harness;
let planners: RunningWorkers | undefined;
let rig: SendingWorkers | undefined;
const DAY = 86_400_000;
const ids = new Map<string, number>();

beforeAll(async () => {
  h = await createHarness();
  // Everything but the senders (and the recommendations refresh, which the test runs itself):
  // rows are planned and queued, nothing is mailed yet.
  planners = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url },
    roles: WORKER_ROLES.filter((r) => r !== 'sender' && r !== 'recommendations'),
    env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '300' },
    logger: h.deps.logger,
  });
});
afterAll(async () => {
  await rig?.close();
  await planners?.close();
  await h?.close();
});

const section = (text: string) =>
  `<mj-section><mj-column><mj-text>${text}</mj-text></mj-column></mj-section>`;

const PRODUCTS = [
  { sku: 'SOFA', title: 'Grey sofa', price: 899, category: 'furniture' },
  {
    sku: 'CUSHION',
    title: { en: 'Wool cushion', fr: 'Coussin en laine' },
    price: 29.9,
    category: 'textile',
    url: 'https://shop.example/cushion',
  },
  {
    sku: 'PILLOW',
    title: { en: 'Linen pillow', fr: 'Oreiller en lin' },
    price: 19.5,
    category: 'textile',
    url: 'https://shop.example/pillow',
  },
];

describe('a product gone between planning and sending', () => {
  it('leaves it and its offer out of the mail, shows what comes next, and the report says why', async () => {
    expect((await h.post('/v1/products', PRODUCTS)).status).toBe(201);
    for (const p of ['a', 'b', 'b1', 'b2', 'b3']) {
      const res = await h.post('/v1/customers', {
        external_id: p,
        email: `${p}@example.com`,
        locale: p === 'b' ? 'fr-FR' : 'en-GB',
        consents: { marketing_email: true },
      });
      ids.set(p, (await json(res)).id);
    }
    let n = 0;
    const line = (c: string, sku: string) => ({
      external_line_id: `l${++n}`,
      customer_external_id: c,
      order_ref: `o-${c}`,
      sku,
      amount: 10,
      purchased_at: new Date(Date.now() - 20 * DAY).toISOString(),
    });
    // Three orders with the sofa and the cushion, two with the pillow too: a and b, who bought
    // only the sofa, are recommended both (and never the sofa).
    const lines = [
      ...['b1', 'b2', 'b3'].flatMap((c) => [line(c, 'SOFA'), line(c, 'CUSHION')]),
      ...['b1', 'b2'].map((c) => line(c, 'PILLOW')),
      line('a', 'SOFA'),
      line('b', 'SOFA'),
    ];
    expect((await h.post('/v1/purchases', lines)).status).toBe(201);
    expect((await h.post('/v1/recommendations/refresh', { customer_ids: [...ids.values()] })).status).toBe(
      200,
    );
    const feed = await json(
      await h.get(`/v1/customers/${ids.get('a')}/recommendations?feed=bought_together&limit=5`),
    );
    const skus = feed.data.map((p: { sku: string }) => p.sku).sort();
    expect(skus).toEqual(['CUSHION', 'PILLOW']);
    // The first recommendation goes out of stock later; the second is what comes next.
    const first: string = feed.data[0].sku;
    const next: string = feed.data[1].sku;
    const titleOf = (sku: string, lang: 'en' | 'fr') =>
      (PRODUCTS.find((p) => p.sku === sku)!.title as Record<string, string>)[lang]!;

    const picked = await json(
      await h.post('/v1/offers', {
        name: 'Picked for you -15%',
        title: '-15 % on the product picked for you',
        priority: 10,
        product: { feed: 'bought_together', skus: [first] },
      }),
    );
    const generic = await json(
      await h.post('/v1/offers', { name: 'Free delivery', title: 'Free delivery this week', fallback: true }),
    );
    const template = await json(
      await h.post('/v1/templates', {
        name: 'Picked for you',
        subject: 'For you',
        mjml: `<mjml><mj-body>${section('{{greeting}}')}${section('{{> offers}}')}${section('{{> products feed="bought_together" count=1}}')}${section('<a href="{{unsubscribe_url}}">unsubscribe</a>')}</mj-body></mjml>`,
      }),
    );
    const segment = await json(
      await h.post('/v1/segments', {
        name: 'sofa buyers',
        rule: { in: [{ var: 'external_id' }, ['a', 'b']] },
      }),
    );
    const campaign = await json(
      await h.post('/v1/campaigns', {
        name: 'Gone before sending',
        segment_id: segment.id,
        template_id: template.id,
        offers_per_email: 1,
        from: { address: 'shop@shop.example' },
      }),
    );
    expect((await h.post(`/v1/campaigns/${campaign.id}/launch`)).status).toBe(200);
    // Planned while the product was there: each row carries the offer about it.
    const planned = await until(async () => {
      const rows = await h.db.sql<{ id: number; offer_ids: number[] }[]>`
        select id, offer_ids from messages where campaign_id = ${campaign.id} and status = 'queued'`;
      return rows.length === 2 ? rows : undefined;
    }, 60_000);
    for (const row of planned) expect(row.offer_ids.map(Number)).toEqual([picked.id]);

    // Out of stock before the mails go out (the stored feeds are not refreshed).
    const gone = { ...PRODUCTS.find((p) => p.sku === first)!, in_stock: false };
    expect((await h.post('/v1/products', gone)).status).toBe(200);
    rig = await startSendingWorkers(h, { roles: ['sender'] });
    await waitForCampaign(h, campaign.id);

    const mails = await rig.mailsOf(campaign.id);
    expect(mails).toHaveLength(2);
    for (const mail of mails) {
      const lang = (mail.to as { text: string }).text === 'b@example.com' ? 'fr' : 'en';
      const all = `${mail.html}\n${mail.text}`;
      expect(all, all).not.toContain(titleOf(first, lang));
      expect(all, all).not.toContain('picked for you');
      expect(all).not.toContain('Grey sofa');
      // The next eligible offer in the offer's place, the next product in the block.
      expect(mail.text).toContain('Free delivery this week');
      expect(mail.text).toContain(titleOf(next, lang));
      expect(String(mail.html)).toContain('class="offerflow-products"');
    }

    const rows = await h.db.sql<
      { offer_ids: number[]; recommended: unknown; data: Record<string, unknown> }[]
    >`
      select m.offer_ids, m.recommended, e.data
      from messages m join contact_events e on e.message_id = m.id and e.kind = 'sent'
      where m.campaign_id = ${campaign.id}`;
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.offer_ids.map(Number)).toEqual([generic.id]);
      // Clicks and purchases count the product the mail showed, at its stored rank.
      expect(row.recommended).toEqual([{ feed: 'bought_together', rank: 2, sku: next }]);
      expect(row.data).toMatchObject({
        no_product: [picked.id],
        replaced: [{ offer_id: picked.id, reason: 'no_product', by: generic.id }],
      });
      expect(row.data.offer_products).toBeUndefined();
    }

    const report = await json(await h.get(`/v1/reports/campaigns/${campaign.id}`));
    expect(report.replacements).toEqual({
      total: 2,
      offers: [
        {
          offer_id: picked.id,
          name: 'Picked for you -15%',
          mails: 2,
          reasons: { codes_exhausted: 0, no_product: 2 },
          replaced_by: [{ offer_id: generic.id, name: 'Free delivery', mails: 2 }],
          not_replaced: 0,
        },
      ],
    });
    expect(report.recommendations.products).toEqual([expect.objectContaining({ sku: next, shown: 2 })]);
    const page = await (
      await getPage(h, `/ui/campaigns/${campaign.id}`, (await signInToUi(h, 'marketer')).session)
    ).text();
    expect(page).toContain(
      '“Picked for you -15%” was left out of 2 mails: the recommended product was no longer available (out of stock, withdrawn or already bought). “Free delivery” took its place in 2 mails.',
    );
  });
});
