import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers, waitForCampaign } from '../helpers/sending-workers.js';

// The {{> products}} block through a campaign, the real workers and an SMTP sink: each mail
// shows the recipient's own recommendations, priced in their locale, and its ledger row keeps them.

let h: Harness;
let rig: SendingWorkers | undefined;
const DAY = 86_400_000;

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

describe('{{> products}}', () => {
  it('refuses a block with an unknown feed or a bad count, naming the field', async () => {
    for (const block of [
      '{{> products feed="nope"}}',
      '{{> products count=99}}',
      '{{> products colour="red"}}',
    ]) {
      const res = await h.post('/v1/templates', {
        name: `bad ${block}`,
        subject: 'Hi',
        mjml: `<mjml><mj-body>${section(block)}</mj-body></mjml>`,
      });
      expect(res.status, block).toBe(422);
      expect((await json(res)).errors[0].path).toBe('mjml');
    }
  });

  it('shows each recipient the products often bought with theirs, priced in their locale, and keeps them on the ledger', async () => {
    await h.post('/v1/products', [
      {
        sku: 'SOFA',
        title: { en: 'Grey sofa', fr: 'Canapé gris' },
        price: 899,
        category: 'furniture',
        url: 'https://shop.example/sofa',
      },
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
    const people = ['en', 'fr', 'b1', 'b2'];
    const ids = new Map<string, number>();
    for (const p of people) {
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
    expect(posted.status, JSON.stringify(await posted.clone().json())).toBe(201);
    expect((await h.post('/v1/recommendations/refresh', { customer_ids: [...ids.values()] })).status).toBe(
      200,
    );

    const template = await json(
      await h.post('/v1/templates', {
        name: 'Picked for you',
        subject: 'Picked for you',
        mjml: `<mjml><mj-body>${section('{{greeting}}')}${section('{{> products feed="bought_together" count=2}}')}${section('<a href="{{unsubscribe_url}}">unsubscribe</a>')}</mj-body></mjml>`,
      }),
    );
    expect(template.id).toBeDefined();
    const segment = await json(
      await h.post('/v1/segments', {
        name: 'sofa only',
        rule: { in: [{ var: 'external_id' }, ['en', 'fr']] },
      }),
    );
    const campaign = await json(
      await h.post('/v1/campaigns', {
        name: 'Products',
        segment_id: segment.id,
        template_id: template.id,
        offers_per_email: 0,
        from: { address: 'shop@shop.example' },
      }),
    );
    expect((await h.post(`/v1/campaigns/${campaign.id}/launch`)).status).toBe(200);
    await waitForCampaign(h, campaign.id);

    const mails = await rig!.mails();
    expect(mails).toHaveLength(2);
    const byTo = new Map(mails.map((m) => [(m.to as { text: string }).text, m]));
    const en = byTo.get('en@example.com')!;
    const fr = byTo.get('fr@example.com')!;
    expect(en.html).toContain('Wool cushion');
    expect(en.html).toContain('https://shop.example/cushion.jpg');
    expect(en.text).toContain('€1,234.50');
    expect(fr.html).toContain('Coussin en laine');
    expect(fr.text).toMatch(/1\s234,50\s€/);
    for (const mail of mails) {
      expect(mail.html).not.toContain('Linen throw');
      expect(mail.html).not.toContain('Grey sofa');
      expect(mail.html).not.toContain('Canapé gris');
    }
    const rows = await h.db
      .sql`select customer_id, recommended from messages where campaign_id = ${campaign.id} order by customer_id`;
    expect(rows.map((r) => r.recommended)).toEqual([
      [{ feed: 'bought_together', rank: 1, sku: 'CUSHION' }],
      [{ feed: 'bought_together', rank: 1, sku: 'CUSHION' }],
    ]);
  });
});
