import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers, waitForCampaign } from '../helpers/sending-workers.js';
import { getPage, postForm, signInToUi } from '../helpers/ui-session.js';

// An offer about one of the customer's recommended products ("-15 % on a product picked for
// you"), through HTTP, the real workers and an SMTP sink: each recipient's offer is filled
// with their own product (title and price in their locale), a customer without one is not
// offered it (explain says why), the filled sku is on the ledger row, and a purchase of it
// converts to the offer.

let h: Harness;
let rig: SendingWorkers | undefined;
const DAY = 86_400_000;
const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

beforeAll(async () => {
  h = await createHarness();
  rig = await startSendingWorkers(h, { env: { SEND_CONCURRENCY: '5' } });
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const section = (text: string) =>
  `<mj-section><mj-column><mj-text>${text}</mj-text></mj-column></mj-section>`;

const ids = new Map<string, number>();
let productOffer: number;
let generic: number;

describe('offers about a recommended product', () => {
  it('refuses a bad product source, naming the field, and stores nothing', async () => {
    const before = await h.db.sql`select count(*)::int as n from offers`;
    for (const [product, path] of [
      [{ feed: 'nope' }, 'product.feed'],
      [{ feed: 'bought_together', rank: 0 }, 'product.rank'],
      [{ feed: 'bought_together', rank: 1.5 }, 'product.rank'],
      [{ feed: 'bought_together', skus: [] }, 'product.skus'],
      [{ feed: 'bought_together', colour: 'red' }, 'product.colour'],
      ['bought_together', 'product'],
    ] as const) {
      const res = await h.post('/v1/offers', { name: 'bad', title: 'Bad', product });
      expect(res.status, JSON.stringify(product)).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = await json(res);
      expect(
        body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    const after = await h.db.sql`select count(*)::int as n from offers`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('fills the offer per customer at decision time; without a product it is not eligible', async () => {
    await h.post('/v1/products', [
      { sku: 'SOFA', title: { en: 'Grey sofa', fr: 'Canapé gris' }, price: 899, category: 'furniture' },
      {
        sku: 'CUSHION',
        title: { en: 'Wool cushion', fr: 'Coussin en laine' },
        price: 1234.5,
        category: 'textile',
        image_url: 'https://shop.example/cushion.jpg',
        url: 'https://shop.example/cushion',
      },
      { sku: 'THROW', title: 'Linen throw', price: 49, category: 'textile', in_stock: false },
    ]);
    for (const p of ['en', 'fr', 'none', 'b1', 'b2']) {
      const res = await h.post('/v1/customers', {
        external_id: p,
        email: `${p}@example.com`,
        locale: p === 'fr' ? 'fr-FR' : 'en-GB',
        consents: { marketing_email: true },
      });
      ids.set(p, (await json(res)).id);
    }
    let n = 0;
    const line = (c: string, order: string, sku: string) => ({
      external_line_id: `l${++n}`,
      customer_external_id: c,
      order_ref: order,
      sku,
      amount: 10,
      purchased_at: new Date(Date.now() - 20 * DAY).toISOString(),
    });
    const posted = await h.post('/v1/purchases', [
      ...['b1', 'b2'].flatMap((c) => [line(c, c, 'SOFA'), line(c, c, 'CUSHION'), line(c, c, 'THROW')]),
      line('en', 'en', 'SOFA'),
      line('fr', 'fr', 'SOFA'),
    ]);
    expect(posted.status).toBe(201);
    expect((await h.post('/v1/recommendations/refresh', { customer_ids: [...ids.values()] })).status).toBe(
      200,
    );

    const created = await h.post('/v1/offers', {
      name: 'Picked for you -15%',
      title: '-15 % on a product picked for you',
      translations: { fr: { title: '-15 % sur un produit choisi pour vous' } },
      priority: 10,
      product: { feed: 'bought_together' },
    });
    expect(created.status).toBe(201);
    const offer = await json(created);
    expect(offer.product).toEqual({ feed: 'bought_together', rank: 1 });
    productOffer = offer.id;
    generic = (
      await json(await h.post('/v1/offers', { name: 'Generic', title: 'Free delivery', fallback: true }))
    ).id;

    const en = await json(await h.post('/v1/decisions', { customer_id: ids.get('en'), placements: 1 }));
    expect(en.offers).toHaveLength(1);
    expect(en.offers[0]).toMatchObject({
      offer_id: productOffer,
      product: { sku: 'CUSHION', title: 'Wool cushion', price: 1234.5, price_text: '€1,234.50' },
    });
    const fr = await json(await h.post('/v1/decisions', { customer_id: ids.get('fr'), placements: 1 }));
    expect(fr.offers[0].product).toMatchObject({ sku: 'CUSHION', title: 'Coussin en laine' });
    expect(fr.offers[0].product.price_text).toMatch(/1\s234,50\s€/);

    const none = await json(
      await h.post('/v1/decisions', { customer_id: ids.get('none'), placements: 1, explain: true }),
    );
    expect(none.offers.map((o: { offer_id: number }) => o.offer_id)).toEqual([generic]);
    const excluded = none.excluded.find((e: { offer_id: number }) => e.offer_id === productOffer);
    expect(excluded.reasons.map((r: { code: string }) => r.code)).toEqual(['no_product']);

    // A sku filter leaving nothing of the feed: nobody has a product for it.
    const filtered = await h.patch(`/v1/offers/${productOffer}`, {
      product: { feed: 'bought_together', skus: ['SOFA', 'THROW'] },
    });
    expect(filtered.status).toBe(200);
    const out = await json(
      await h.post('/v1/decisions', { customer_id: ids.get('en'), placements: 1, explain: true }),
    );
    expect(out.offers.map((o: { offer_id: number }) => o.offer_id)).toEqual([generic]);
    expect(out.excluded.find((e: { offer_id: number }) => e.offer_id === productOffer).reasons[0].code).toBe(
      'no_product',
    );
    await h.patch(`/v1/offers/${productOffer}`, {
      product: { feed: 'bought_together', category: 'textile' },
    });
  });

  it('mails each recipient their product, keeps the sku on the ledger, and converts its purchase to the offer', async () => {
    const template = await json(
      await h.post('/v1/templates', {
        name: 'Offer on a product',
        subject: '{{offer.title}}',
        mjml: `<mjml><mj-body>${section('{{greeting}}')}${section('Yours: {{offer.product.title}} at {{offer.product.price_text}}')}${section('{{> offers}}')}${section('<a href="{{unsubscribe_url}}">unsubscribe</a>')}</mj-body></mjml>`,
      }),
    );
    expect(template.id).toBeDefined();
    const segment = await json(
      await h.post('/v1/segments', {
        name: 'three',
        rule: { in: [{ var: 'external_id' }, ['en', 'fr', 'none']] },
      }),
    );
    const campaign = await json(
      await h.post('/v1/campaigns', {
        name: 'Products offer',
        segment_id: segment.id,
        template_id: template.id,
        offers_per_email: 1,
        from: { address: 'shop@shop.example' },
      }),
    );
    expect((await h.post(`/v1/campaigns/${campaign.id}/launch`)).status).toBe(200);
    await waitForCampaign(h, campaign.id);

    const mails = await rig!.mailsOf(campaign.id);
    expect(mails).toHaveLength(3);
    const byTo = new Map(mails.map((m) => [(m.to as { text: string }).text, m]));
    const en = byTo.get('en@example.com')!;
    expect(en.subject).toBe('-15 % on a product picked for you');
    expect(en.text).toContain('Yours: Wool cushion at €1,234.50');
    expect(en.html).toContain('class="offerflow-offer-product"');
    const fr = byTo.get('fr@example.com')!;
    expect(fr.subject).toBe('-15 % sur un produit choisi pour vous');
    expect(fr.text).toMatch(/Yours: Coussin en laine at 1\s234,50\s€/);
    const none = byTo.get('none@example.com')!;
    expect(none.subject).toBe('Free delivery');
    for (const mail of mails) expect(mail.html).not.toContain('Linen throw');

    const rows = await h.db.sql`
      select m.customer_id, m.offer_ids, m.recommended, e.data
      from messages m join contact_events e on e.message_id = m.id and e.kind = 'sent'
      where m.campaign_id = ${campaign.id} order by m.customer_id`;
    const row = (who: string) => rows.find((r) => Number(r.customer_id) === ids.get(who))!;
    for (const who of ['en', 'fr']) {
      expect(row(who).offer_ids.map(Number)).toEqual([productOffer]);
      expect(row(who).recommended).toEqual([
        { feed: 'bought_together', rank: 1, sku: 'CUSHION', offer_id: productOffer },
      ]);
      expect(row(who).data.offer_products).toEqual({ [productOffer]: 'CUSHION' });
    }
    expect(row('none').offer_ids.map(Number)).toEqual([generic]);

    // The product's link is tracked as the product's; a click, then a purchase of the sku.
    const link = [...String(en.html).matchAll(/href="([^"]*\/t\/c\/[^"]+)"/g)].map((m) => m[1]!)[0]!;
    await h.db
      .sql`update messages set sent_at = sent_at - interval '1 hour' where campaign_id = ${campaign.id}`;
    const click = await h.get(new URL(link).pathname, { role: null, headers: { 'user-agent': BROWSER } });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/cushion');
    await flushTrackingEvents(h.deps);
    const bought = await h.post('/v1/purchases', [
      {
        external_line_id: 'after-mail',
        customer_external_id: 'en',
        sku: 'CUSHION',
        amount: 1049.33,
        purchased_at: new Date().toISOString(),
      },
    ]);
    expect(bought.status).toBe(201);
    const [conversion] = await h.db.sql`
      select offer_id, data from contact_events where campaign_id = ${campaign.id} and kind = 'converted'`;
    expect(Number(conversion!.offer_id)).toBe(productOffer);
    expect(conversion!.data).toMatchObject({
      sku: 'CUSHION',
      recommendation: { feed: 'bought_together', rank: 1 },
    });
  });

  it('is set on the offer form with a feed picker, not JSON, and a bad rank is named on the form', async () => {
    const { session, csrf } = await signInToUi(h, 'marketer');
    const blank = await (await getPage(h, '/ui/offers/new', session)).text();
    expect(blank).toContain('name="product.feed"');
    expect(blank).toContain('Often bought with what they bought');
    const fields = {
      _csrf: csrf,
      name: 'Throw -10%',
      title: '-10 % on a textile for you',
      priority: '0',
      'product.feed': 'top_in_category',
      'product.rank': '2',
      'product.skus': 'CUSHION, THROW',
      'product.category': 'textile',
    };
    const saved = await postForm(h, '/ui/offers', session, fields);
    expect(saved.status).toBe(303);
    const id = Number(/\/ui\/offers\/(\d+)/.exec(saved.headers.get('location') ?? '')![1]);
    const offer = await json(await h.get(`/v1/offers/${id}`));
    expect(offer.product).toEqual({
      feed: 'top_in_category',
      rank: 2,
      skus: ['CUSHION', 'THROW'],
      category: 'textile',
    });
    const edit = await (await getPage(h, `/ui/offers/${id}`, session)).text();
    expect(edit).toMatch(/<option value="top_in_category" selected/);
    expect(edit).toContain('value="CUSHION, THROW"');
    const list = await (await getPage(h, '/ui/offers', session)).text();
    expect(list).toContain('Best sellers of their categories');

    const bad = await postForm(h, `/ui/offers/${id}`, session, { ...fields, 'product.rank': '0' });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(
      /id="f-product-rank"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="f-product-rank"/,
    );
    expect((await json(await h.get(`/v1/offers/${id}`))).product.rank).toBe(2);

    // No feed chosen: the offer is about no product any more.
    const cleared = await postForm(h, `/ui/offers/${id}`, session, { ...fields, 'product.feed': '' });
    expect(cleared.status).toBe(303);
    expect((await json(await h.get(`/v1/offers/${id}`))).product).toBeNull();
  });
});
