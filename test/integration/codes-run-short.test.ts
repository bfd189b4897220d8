import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { getPage, signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// A campaign planned while its offer's pool held a code for every recipient, whose pool then
// ran short before the mails went out (another campaign took them): the mails that find no code
// leave the offer out (never an empty code) and show the next eligible offer in its place, say
// so in their `sent` event, and the ledger row, impressions and clicks count what the mail showed.

let h: Harness;
let sending: SendingWorkers;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 16, h.deps.config.OFFERFLOW_SECRET);
  // Everything but the senders: rows are planned and queued, nothing is mailed yet.
  sending = await startSendingWorkers(h, { roles: WORKER_ROLES.filter((r) => r !== 'sender') });
});
afterAll(async () => {
  await sending?.close();
  await h?.close();
});

const CODE = /\bGARDEN-\d{4}\b/;

describe('unique codes running short at send time', () => {
  it('replaces the offer in the mails that find no code, says why, and never mails an empty code', async () => {
    const [garden, , fallback] = shop.offerIds;
    const codes = Array.from(
      { length: shop.eligible.size },
      (_, i) => `GARDEN-${String(i + 1).padStart(4, '0')}`,
    );
    expect((await h.post(`/v1/offers/${garden}/codes`, { codes })).status).toBe(201);
    const res = await h.post('/v1/campaigns', {
      name: 'Short pool',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 1,
      from: { address: 'offers@shop.example', name: 'Shop' },
    });
    expect(res.status).toBe(201);
    const { id } = await json(res);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    const planned = await until(async () => {
      const rows = await h.db.sql<{ id: number; offer_ids: number[] }[]>`
        select id, offer_ids from messages where campaign_id = ${id} and status = 'queued'`;
      return rows.length === shop.eligible.size ? rows : undefined;
    }, 60_000);
    const withGarden = planned.filter((r) => r.offer_ids.includes(garden!));
    expect(withGarden.length).toBeGreaterThan(2);

    // Another campaign takes all but two of the codes before the mails go out.
    const [left] = await h.db.sql<{ n: number }[]>`
      with kept as (select id from offer_codes where offer_id = ${garden!} order by id limit 2)
      delete from offer_codes where offer_id = ${garden!} and id not in (select id from kept)
      returning 1`.then((r) => [{ n: r.length }]);
    expect(left!.n).toBe(shop.eligible.size - 2);

    await sending.addWorkers(['sender']);
    await until(async () => (await json(await h.get(`/v1/campaigns/${id}`))).status === 'sent', 60_000);
    const mails = await sending.mails();
    expect(mails.length).toBe(shop.eligible.size);
    const byMessage = new Map(mails.map((m) => [Number(m.headers.get('x-offerflow-message')), m]));

    const sent = await h.db.sql<{ id: number; offer_ids: number[]; data: Record<string, unknown> }[]>`
      select m.id, m.offer_ids, e.data from messages m
      join contact_events e on e.message_id = m.id and e.kind = 'sent'
      where m.id = any(${withGarden.map((r) => r.id)})`;
    const coded = sent.filter((r) => r.offer_ids.includes(garden!));
    const short = sent.filter((r) => !r.offer_ids.includes(garden!));
    expect(coded.length).toBe(2);
    expect(short.length).toBe(withGarden.length - 2);
    for (const row of coded) {
      expect(CODE.test(byMessage.get(row.id)!.text ?? '')).toBe(true);
      expect(row.data.codes).toEqual({ [String(garden)]: expect.stringMatching(CODE) });
    }
    for (const row of short) {
      const text = byMessage.get(row.id)!.text ?? '';
      // Not the offer, nor a code of its pool: the next eligible offer (the fallback) instead.
      expect(text, text).not.toMatch(/Garden -20%|Jardin -20 %/);
      expect(text, text).not.toMatch(CODE);
      expect(text, text).toContain('FREE');
      expect(row.offer_ids.map(Number)).toEqual([fallback]);
      expect(row.data).toMatchObject({
        codes_exhausted: [garden],
        replaced: [{ offer_id: garden, reason: 'codes_exhausted', by: fallback }],
        offer_ids: row.offer_ids,
      });
    }
    // Impressions count only what the mails showed.
    const [shownCount] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from offer_impressions where offer_id = ${garden!} and campaign_id = ${id}`;
    expect(shownCount!.n).toBe(2);

    // The report says which offer was left out, why, and which one went out instead.
    const report = await json(await h.get(`/v1/reports/campaigns/${id}`));
    const [gardenName, fallbackName] = await h.db.sql<{ name: string }[]>`
      select name from offers where id = any(${[garden!, fallback!]}) order by id = ${fallback!}`;
    expect(report.replacements).toEqual({
      total: short.length,
      offers: [
        {
          offer_id: garden,
          name: gardenName!.name,
          mails: short.length,
          reasons: { codes_exhausted: short.length, no_product: 0 },
          replaced_by: [{ offer_id: fallback, name: fallbackName!.name, mails: short.length }],
          not_replaced: 0,
        },
      ],
    });
    // …and so does the campaign's page, in words.
    const page = await (
      await getPage(h, `/ui/campaigns/${id}`, (await signInToUi(h, 'marketer')).session)
    ).text();
    expect(page).toContain('Offers changed at send time');
    expect(page).toContain(
      `“${gardenName!.name}” was left out of ${short.length} mails: its unique codes ran out. “${fallbackName!.name}” took its place in ${short.length} mails.`,
    );
  });
});
