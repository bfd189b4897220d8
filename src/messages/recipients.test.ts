import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopFixture, seedCampaignShop } from '../../test/helpers/campaign-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { decideRecipients } from './recipients.js';

// The one recipients step of the planner, the A/B send-out and the trigger firing, against a
// real database: suppression reasons, the producer's own status, and offers for queued rows only.

const SECRET = 'recipients-secret-0123456789abcdef';
const config = { OFFERFLOW_SECRET: SECRET, MARKETING_LEGAL_BASIS: 'consent' as const };
const now = new Date();
let db: TestDatabase;
let shop: ShopFixture;
let customerIds: number[];

beforeAll(async () => {
  db = await createTestDatabase();
  shop = await seedCampaignShop(db.sql, 120, SECRET);
  customerIds = (await db.sql<{ id: number }[]>`select id from customers order by id`).map((r) => r.id);
});

afterAll(async () => {
  await db.drop();
});

describe('decideRecipients', () => {
  it('gives every suppressed customer its reason and no offers, every other one its status and offers', async () => {
    const rows = await decideRecipients(
      { sql: db.sql, config },
      customerIds.map((id) => ({ customer_id: id, even: id % 2 === 0 })),
      { now, placements: () => 2, admit: (r) => (r.even ? 'queued' : 'held') },
    );
    expect(rows.map((r) => r.customer_id)).toEqual(customerIds);
    for (const row of rows) {
      const reason = shop.suppressed.get(row.customer_id) ?? null;
      expect(row.suppressed_reason).toBe(reason);
      if (reason) expect(row.status).toBe('suppressed');
      else expect(row.status).toBe(row.even ? 'queued' : 'held');
      if (row.status !== 'queued') expect(row.offer_ids).toEqual([]);
      else expect(row.offer_ids.every((id) => shop.offerIds.includes(id))).toBe(true);
    }
    expect(rows.some((r) => r.status === 'queued' && r.offer_ids.length > 0)).toBe(true);
  });

  it('asks for the status of mailable rows only, once each, in page order', async () => {
    const asked: number[] = [];
    const page = [...customerIds].reverse().map((id) => ({ customer_id: id }));
    await decideRecipients({ sql: db.sql, config }, page, {
      now,
      placements: () => 0,
      admit: (r) => {
        asked.push(r.customer_id);
        return 'queued';
      },
    });
    expect(asked).toEqual(page.map((r) => r.customer_id).filter((id) => !shop.suppressed.has(id)));
  });

  it('leaves out a customer who no longer exists, or gives the reason asked for', async () => {
    const gone = { customer_id: 987_654_321 };
    const kept = { customer_id: [...shop.eligible.keys()][0]! };
    const dropped = await decideRecipients({ sql: db.sql, config }, [gone, kept], {
      now,
      placements: () => 0,
    });
    expect(dropped.map((r) => r.customer_id)).toEqual([kept.customer_id]);
    const marked = await decideRecipients({ sql: db.sql, config }, [gone, kept], {
      now,
      placements: () => 0,
      missingReason: 'erased',
    });
    expect(marked.map((r) => [r.customer_id, r.status, r.suppressed_reason])).toEqual([
      [gone.customer_id, 'suppressed', 'erased'],
      [kept.customer_id, 'queued', null],
    ]);
  });

  it('decides each offer batch with its own number of offers', async () => {
    const eligible = [...shop.eligible.keys()].slice(0, 10);
    const page = eligible.flatMap((id) => [
      { customer_id: id, trigger: 1, wants: 1 },
      { customer_id: id, trigger: 2, wants: 0 },
    ]);
    const rows = await decideRecipients({ sql: db.sql, config }, page, {
      now,
      placements: (r) => r.wants,
      offerBatch: (r) => r.trigger,
    });
    for (const row of rows) expect(row.offer_ids.length).toBeLessThanOrEqual(row.wants);
    expect(rows.filter((r) => r.trigger === 1).some((r) => r.offer_ids.length === 1)).toBe(true);
    expect(rows.filter((r) => r.trigger === 2).every((r) => r.offer_ids.length === 0)).toBe(true);
  });
});
