import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOfferImpressions, rollUpShownCounts } from '../../src/offers/impressions.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Sends record impressions without touching the offer row; shown_count must stay exact before,
// during and after the roll-up that folds them into the column.

let h: Harness;
let customerIds: number[];

beforeAll(async () => {
  h = await createHarness();
  const rows = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email)
    select 'oc-' || g, 'oc' || g || '@example.com' from generate_series(1, 20) g returning id`;
  customerIds = rows.map((r) => r.id);
});
afterAll(async () => h.close());

describe('offer shown counts', () => {
  it('counts concurrent impressions exactly, with or without a roll-up, and holds the global cap', async () => {
    const created = await h.post('/v1/offers', { name: 'counted', title: 'Counted', global_cap: 20 });
    const offer = await json(created);
    const other = await json(await h.post('/v1/offers', { name: 'other', title: 'Other' }));
    const shown = async (id: number) => (await json(await h.get(`/v1/offers/${id}`))).shown_count;

    const record = (i: number) =>
      h.db.sql.begin((tx) =>
        recordOfferImpressions(tx, {
          customer_id: customerIds[i]!,
          message_id: 70_000 + i,
          offer_ids: [offer.id, other.id],
          at: new Date(),
        }),
      );
    await Promise.all(customerIds.slice(0, 10).map((_, i) => record(i)));
    expect(await shown(offer.id)).toBe(10);
    expect(await rollUpShownCounts(h.db.sql)).toBe(20);
    expect(await shown(offer.id)).toBe(10);
    expect(await shown(other.id)).toBe(10);

    // A retry of a recorded message adds nothing; new ones add on top of the rolled-up count.
    await Promise.all(customerIds.slice(0, 20).map((_, i) => record(i)));
    expect(await shown(offer.id)).toBe(20);
    const [column] = await h.db.sql<{ shown_count: number }[]>`
      select shown_count from offers where id = ${offer.id}`;
    expect(column!.shown_count).toBe(10);
    expect(await rollUpShownCounts(h.db.sql)).toBe(20);
    expect(await rollUpShownCounts(h.db.sql)).toBe(0);
    expect(await shown(offer.id)).toBe(20);

    // The global cap (20) is reached: the offer is no longer decided for anyone.
    const decision = await json(
      await h.post('/v1/decisions', { customer_id: customerIds[0], placements: 2 }),
    );
    expect(decision.offers.map((o: { offer_id: number }) => o.offer_id)).not.toContain(offer.id);
  });
});
