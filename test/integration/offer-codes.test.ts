import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimCode } from '../../src/offers/code-store.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers, waitForCampaign } from '../helpers/sending-workers.js';

// Unique codes through the API, the real workers and an SMTP sink: each mail of a campaign
// carries its own code, a purchase with that code converts to that mail, an empty pool makes
// its offer ineligible.

let h: Harness;
let rig: SendingWorkers | undefined;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 24, h.deps.config.OFFERFLOW_SECRET);
  rig = await startSendingWorkers(h);
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const CODE = /\b(GARDEN-\d{4}|BK-[A-Z0-9]{7})\b/;

describe('POST /v1/offers/{id}/codes', () => {
  it('adds given or generated codes, skips duplicates, warns when low, refuses bad input naming the field', async () => {
    const [garden, books] = shop.offerIds;
    const given = Array.from({ length: 30 }, (_, i) => `GARDEN-${String(i + 1).padStart(4, '0')}`);
    const added = await h.post(`/v1/offers/${garden}/codes`, { codes: [...given, given[0]] });
    expect(added.status).toBe(201);
    expect(await json(added)).toMatchObject({
      added: 30,
      duplicates: 1,
      total: 30,
      available: 30,
      low: false,
    });
    const generated = await json(
      await h.post(`/v1/offers/${books}/codes`, {
        count: 30,
        pattern: 'BK-#######',
        alphabet: 'ABCDEFGHJK23456789',
      }),
    );
    expect(generated).toMatchObject({ added: 30, total: 30, available: 30 });
    const codes = await h.db.sql`select code from offer_codes where offer_id = ${books!}`;
    expect(codes.every((r) => /^BK-[A-HJK2-9]{7}$/.test(r.code as string))).toBe(true);

    for (const [body, path] of [
      [{}, 'codes'],
      [{ codes: [] }, 'codes'],
      [{ codes: ['has space'] }, 'codes.0'],
      [{ count: 10, pattern: 'NOHASH' }, 'pattern'],
      [{ count: 10, length: 3 }, 'length'],
      [{ count: 1000, pattern: 'X-##', alphabet: 'AB' }, 'pattern'],
      [{ codes: ['A'], alphabet: 'AB' }, 'pattern'],
    ] as const) {
      const res = await h.post(`/v1/offers/${garden}/codes`, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await json(res)).errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await h.post('/v1/offers/999999/codes', { codes: ['X'] })).status).toBe(404);
    const [{ n }] = (await h.db.sql`select count(*)::int as n from offer_codes`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(60);
  });

  it('gives each mail of a campaign a different code, on its contact history, and converts a purchase with it to that mail', async () => {
    const [garden, books, fallback] = shop.offerIds;
    const draft = {
      name: 'Codes',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 1,
      from: { address: 'offers@shop.example', name: 'Shop' },
    };
    // Half the shop reads French: offers without French wording are named at save.
    const warned = await json(await h.post('/v1/campaigns', { ...draft, name: 'Warned' }));
    expect(warned.warnings.map((w: { path: string }) => w.path)).toContain('offers');
    expect(warned.warnings.find((w: { path: string }) => w.path === 'offers').message).toMatch(
      /read fr.*garden/,
    );
    for (const [offer, title] of [
      [garden, 'Jardin -20 %'],
      [books, 'Livres : 3 pour 2'],
      [fallback, 'Livraison offerte'],
    ] as const) {
      const patched = await h.patch(`/v1/offers/${offer}`, {
        translations: { fr: { title, code_label: 'Votre code personnel :' } },
      });
      expect(patched.status).toBe(200);
    }
    const bad = await h.patch(`/v1/offers/${garden}`, { translations: { 'not a locale!': { title: 'x' } } });
    expect(bad.status).toBe(422);
    const res = await h.post('/v1/campaigns', draft);
    expect(res.status).toBe(201);
    const { id, warnings } = await json(res);
    expect(warnings ?? []).toEqual([]);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    await waitForCampaign(h, id);

    const mails = await rig!.mails();
    expect(mails.length).toBe(shop.eligible.size);
    const codeOf = new Map<number, string>();
    for (const mail of mails) {
      const code = CODE.exec(mail.text ?? '')?.[1];
      expect(code, mail.text).toBeDefined();
      codeOf.set(Number(mail.headers.get('x-offerflow-message')), code!);
    }
    expect(new Set(codeOf.values()).size).toBe(mails.length);
    // French customers read the French offer text, the others the offer's own.
    const locales = new Map(
      (await h.db.sql<{ email: string; locale: string }[]>`select email, locale from customers`).map((r) => [
        r.email,
        r.locale,
      ]),
    );
    for (const mail of mails) {
      const french = locales.get((mail.to as { text: string }).text) === 'fr-FR';
      const text = mail.text ?? '';
      expect(/Jardin -20 %|Livres : 3 pour 2|Livraison offerte/.test(text), text).toBe(french);
      expect(/Garden -20%|Books 3 for 2|Free delivery/.test(text), text).toBe(!french);
      expect(text.includes('Votre code personnel :'), text).toBe(french);
    }
    // Each code is claimed by the message that carried it, and the `sent` event records it.
    const claimed = await h.db.sql<
      { message_id: number; code: string; offer_id: number; data: { codes: Record<string, string> } }[]
    >`
      select k.message_id, k.code, k.offer_id, e.data from offer_codes k
      join contact_events e on e.message_id = k.message_id and e.kind = 'sent'
      where k.message_id is not null`;
    expect(claimed.length).toBe(mails.length);
    for (const row of claimed) {
      expect(codeOf.get(row.message_id)).toBe(row.code);
      expect(row.data.codes[String(row.offer_id)]).toBe(row.code);
    }
    // A retried render of the same message keeps its code.
    const first = claimed[0]!;
    const [message] = await h.db.sql`select customer_id from messages where id = ${first.message_id}`;
    expect(
      await claimCode(h.db.sql, {
        messageId: first.message_id,
        offerId: first.offer_id,
        customerId: message!.customer_id as number,
      }),
    ).toBe(first.code);

    // Another customer redeems the code (a forwarded mail): the conversion still goes to the mail and its offer.
    const buyer = [...shop.eligible.keys()].find((c) => c !== (message!.customer_id as number))!;
    const bought = await h.post('/v1/purchases', {
      external_line_id: 'coded-1',
      customer_id: buyer,
      amount: 55,
      coupon_code: first.code,
      purchased_at: new Date().toISOString(),
    });
    expect(bought.status).toBe(201);
    const [conversion] = await h.db.sql`
      select message_id, offer_id, campaign_id, data from contact_events where kind = 'converted' and customer_id = ${buyer}`;
    expect(conversion).toMatchObject({
      message_id: first.message_id,
      offer_id: first.offer_id,
      campaign_id: id,
    });
    expect(conversion!.data).toMatchObject({ touch: 'code', coupon_code: first.code });
    const [redeemed] = await h.db
      .sql`select redeemed_purchase_id from offer_codes where code = ${first.code}`;
    expect(redeemed!.redeemed_purchase_id).not.toBeNull();
    const pool = await json(await h.get(`/v1/offers/${first.offer_id}/codes`));
    expect(pool.redeemed).toBe(1);
  });

  it('makes an offer with an empty pool ineligible, saying why', async () => {
    const offer = await json(
      await h.post('/v1/offers', { name: 'solo', title: 'One code only', priority: 100, fallback: true }),
    );
    const low = await json(await h.post(`/v1/offers/${offer.id}/codes`, { codes: ['SOLO-1'] }));
    expect(low.low).toBe(true);
    expect(low.warnings[0].message).toMatch(/only 1 of 1 codes are left/);
    const customer = [...shop.eligible.keys()][0]!;
    const before = await json(
      await h.post('/v1/decisions', { customer_id: customer, placements: 3, explain: true }),
    );
    expect(before.offers.map((o: { offer_id: number }) => o.offer_id)).toContain(offer.id);
    await h.db
      .sql`update offer_codes set message_id = (select min(id) from messages) where offer_id = ${offer.id}`;
    const after = await json(
      await h.post('/v1/decisions', { customer_id: customer, placements: 3, explain: true }),
    );
    expect(after.offers.map((o: { offer_id: number }) => o.offer_id)).not.toContain(offer.id);
    const excluded = after.excluded.find((e: { offer_id: number }) => e.offer_id === offer.id);
    expect(excluded.reasons.map((r: { code: string }) => r.code)).toContain('codes_exhausted');
    const empty = await json(await h.get(`/v1/offers/${offer.id}/codes`));
    expect(empty).toMatchObject({ available: 0, low: true });
    expect(empty.warnings[0].message).toMatch(/empty/);
  });
});
