import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { until } from '../helpers/until.js';

// Two campaigns planned at once against one code pool, each seeing every free code (codes are
// claimed at send time), so together they planned more mails with the offer than the pool
// holds; then two sender processes race on them. No code goes out twice, every mail still has
// an offer (the next eligible one takes the place of the offer whose pool ran dry), and each
// replacement is on the mail's `sent` event.

let h: Harness;
let sending: SendingWorkers;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 30, h.deps.config.OFFERFLOW_SECRET);
  // Everything but the senders: both campaigns are planned before anything is mailed.
  sending = await startSendingWorkers(h, {
    roles: WORKER_ROLES.filter((r) => r !== 'sender'),
    env: { SEND_CONCURRENCY: '8' },
  });
});
afterAll(async () => {
  await sending?.close();
  await h?.close();
});

const CODE = /\bPOOL-\d{4}\b/g;

describe('a replacement offer when the codes run out at send time', () => {
  it('never mails a code twice, gives every mail an offer, and counts the replacements', async () => {
    const [garden, , fallback] = shop.offerIds;
    const launch = async (name: string) => {
      const res = await h.post('/v1/campaigns', {
        name,
        segment_id: shop.segmentId,
        template_id: shop.templateId,
        offers_per_email: 1,
        from: { address: 'offers@shop.example', name: 'Shop' },
      });
      expect(res.status).toBe(201);
      const { id } = await json(res);
      expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
      return id as number;
    };
    const planned = async (id: number) =>
      until(async () => {
        const rows = await h.db.sql<{ id: number; offer_ids: number[] }[]>`
          select id, offer_ids from messages where campaign_id = ${id} and status = 'queued'`;
        return rows.length === shop.eligible.size ? rows : undefined;
      }, 60_000);

    // Enough codes for either campaign alone, not for both.
    const first = await launch('Pool A');
    const gardenPerCampaign = (await planned(first)).filter((r) => r.offer_ids.map(Number).includes(garden!));
    const x = gardenPerCampaign.length;
    expect(x).toBeGreaterThan(4);
    const pool = x + 3;
    const codes = Array.from({ length: pool }, (_, i) => `POOL-${String(i + 1).padStart(4, '0')}`);
    // The pool arrives between the two plans: the second sees every code free, as the first
    // would have (codes are claimed at send time), so 2x mails will ask for x + 3 codes.
    expect((await h.post(`/v1/offers/${garden}/codes`, { codes })).status).toBe(201);
    const second = await launch('Pool B');
    const secondRows = await planned(second);
    expect(secondRows.filter((r) => r.offer_ids.map(Number).includes(garden!))).toHaveLength(x);

    // Two sender processes race on the two campaigns' 2x mails with the offer, for x + 3 codes.
    await sending.addWorkers(['sender']);
    await sending.addWorkers(['sender']);
    for (const id of [first, second])
      await until(async () => (await json(await h.get(`/v1/campaigns/${id}`))).status === 'sent', 90_000);

    const mails = await sending.mails();
    expect(mails).toHaveLength(2 * shop.eligible.size);
    const mailed = mails.flatMap((m) => [...(m.text ?? '').matchAll(CODE)].map((c) => c[0]));
    // Each code at most once, and no more codes than the pool had.
    expect(new Set(mailed).size).toBe(mailed.length);
    expect(mailed.length).toBeLessThanOrEqual(pool);

    const sent = await h.db.sql<
      { id: number; campaign_id: number; offer_ids: number[]; data: Record<string, unknown> }[]
    >`
      select m.id, m.campaign_id, m.offer_ids, e.data from messages m
      join contact_events e on e.message_id = m.id and e.kind = 'sent'
      where m.campaign_id in (${first}, ${second})`;
    expect(sent).toHaveLength(2 * shop.eligible.size);
    // Every mail has an offer.
    for (const row of sent) expect(row.offer_ids, JSON.stringify(row.data)).toHaveLength(1);
    const withCode = sent.filter((r) => r.offer_ids.map(Number).includes(garden!));
    const replacedRows = sent.filter((r) => r.data.replaced !== undefined);
    // Every code of the pool went out, each with one mail; the other mails planned with the
    // offer got the next eligible one instead.
    const [claimed] = await h.db.sql<{ n: number; messages: number }[]>`
      select count(*)::int as n, count(distinct message_id)::int as messages
      from offer_codes where offer_id = ${garden!} and message_id is not null`;
    expect(claimed!.n).toBe(withCode.length);
    expect(claimed!.messages).toBe(withCode.length);
    expect(withCode.length).toBe(pool);
    expect(replacedRows).toHaveLength(2 * x - pool);
    for (const row of withCode) expect(Object.values(row.data.codes as object)).toHaveLength(1);
    expect(replacedRows.length).toBeGreaterThan(0);
    for (const row of replacedRows) {
      expect(row.offer_ids.map(Number)).toEqual([fallback]);
      expect(row.data).toMatchObject({
        codes_exhausted: [garden],
        replaced: [{ offer_id: garden, reason: 'codes_exhausted', by: fallback }],
      });
    }
    // Impressions count what the mails showed.
    const [impressions] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from offer_impressions where offer_id = ${garden!}`;
    expect(impressions!.n).toBe(withCode.length);
  });
});
