import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCampaignShop } from '../../test/helpers/campaign-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { cancelHeldMessages, type ReleasedRow, releaseHeldMessages } from '../campaigns/ab-store.js';
import type { Db } from '../db/sql.js';
import { cancelPendingOfTrigger, cancelSupersededByPurchase } from '../triggers/store.js';
import { markEnqueued } from './ledger.js';

// Statements that update many ledger rows at once, run side by side over the same rows.
// PostgreSQL picks a plan per statement: an index scan visits rows in id order, a sequential
// scan in heap order, which every update reshuffles, a join in its input's order. Forcing
// different plans side by side is how three concurrent planners deadlocked in CI (the plan
// changed once autoanalyze saw the new rows).

let db: TestDatabase;
let campaignId: number;
let ids: number[];
let triggerId: number;
let triggerMessageIds: number[];
let customerIds: number[];

beforeAll(async () => {
  db = await createTestDatabase({ max: 8 });
  const shop = await seedCampaignShop(db.sql, 1200, 'ledger-locks-secret-0123456789abcdef');
  const [campaign] = await db.sql<{ id: number }[]>`
    insert into campaigns (name, segment_id, template_id, status)
    values ('concurrent ledger writers', ${shop.segmentId}, ${shop.templateId}, 'sending') returning id`;
  campaignId = campaign!.id;
  ids = (
    await db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, template_id, template_version, status)
      select ${campaignId}, id, ${shop.templateId}, 1, 'queued' from customers order by id
      returning id`
  ).map((r) => r.id);
  // A replenish reminder per customer, waiting, each fired by a purchase older than a later one.
  const [trigger] = await db.sql<{ id: number }[]>`
    insert into triggers (name, event, template_id, template_version, cancel_on_purchase)
    values ('replenish', 'purchase', ${shop.templateId}, 1, true) returning id`;
  triggerId = trigger!.id;
  customerIds = (await db.sql<{ id: number }[]>`select id from customers order by id`).map((r) => r.id);
  triggerMessageIds = (
    await db.sql<{ id: number }[]>`
      insert into messages (trigger_id, customer_id, template_id, template_version, status, send_at)
      select ${triggerId}, id, ${shop.templateId}, 1, 'queued', now() + interval '30 days'
      from customers order by id returning id`
  ).map((r) => r.id);
  await db.sql`
    insert into trigger_firings (trigger_id, event_key, customer_id, message_id, outcome, event_at)
    select ${triggerId}, 'purchase:old-' || m.customer_id, m.customer_id, m.id, 'queued', now() - interval '400 days'
    from messages m where m.trigger_id = ${triggerId}`;
}, 60_000);
afterAll(async () => db?.drop());

const plans = [
  ['enable_seqscan', 'enable_bitmapscan', 'enable_hashjoin', 'enable_mergejoin'],
  ['enable_indexscan', 'enable_bitmapscan', 'enable_nestloop'],
] as const;

function withPlan<T>(plan: number, run: (tx: Db) => Promise<T>): Promise<T> {
  return db.sql.begin(async (tx: Db) => {
    for (const setting of plans[plan]!) await tx`select set_config(${setting}, 'off', true)`;
    return run(tx);
  }) as Promise<T>;
}

describe('ledger rows updated concurrently', () => {
  it('planners noting overlapping pages at once never deadlock, and every row is noted', async () => {
    for (let round = 0; round < 20; round++) {
      await db.sql`update messages set enqueued_at = null`;
      const pages = Array.from({ length: 6 }, (_, k) =>
        ids.filter((_, i) => (i + k * 37 + round) % 3 !== 0).slice(0, 300 + k * 100),
      );
      await Promise.all(pages.map((page, k) => withPlan(k % 2, (tx) => markEnqueued(tx, page))));
      const [row] = await db.sql<{ missing: number }[]>`
        select count(*)::int as missing from messages
        where id = any(${[...new Set(pages.flat())]}::bigint[]) and enqueued_at is null`;
      expect(row!.missing).toBe(0);
    }
  });

  it('purchases cancelling reminders and the trigger switched off at once never deadlock; each reminder is cancelled once', async () => {
    for (let round = 0; round < 10; round++) {
      await db.sql`
        update messages set status = 'queued', suppressed_reason = null where trigger_id = ${triggerId}`;
      // Purchase batches name their customers in any order.
      const batches = [0, 1, 2].map((k) =>
        customerIds.filter((_, i) => (i + k + round) % 3 !== 0).sort(() => (k % 2 ? -1 : 1)),
      );
      const [cancelled, switchedOff] = await Promise.all([
        Promise.all(
          batches.map((batch, k) => withPlan(k % 2, (tx) => cancelSupersededByPurchase(tx, batch))),
        ),
        withPlan(round % 2, (tx) => cancelPendingOfTrigger(tx, triggerId)),
      ]);
      expect(new Set(cancelled.flat()).size + switchedOff).toBe(triggerMessageIds.length);
      const [left] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from messages
        where trigger_id = ${triggerId} and status = 'queued'`;
      expect(left!.n).toBe(0);
    }
  });

  it('a winner send-out and a cancel over the same held rows never deadlock; each row is one or the other', async () => {
    const released = (page: number[]): ReleasedRow[] =>
      page.map((id) => ({
        id,
        variant: 'B',
        template_version: 1,
        offer_ids: [],
        held_out_offer_ids: [],
        status: 'queued',
        suppressed_reason: null,
      }));
    for (let round = 0; round < 10; round++) {
      await db.sql`update messages set status = 'held' where campaign_id = ${campaignId}`;
      // The send-out walks pages in descending order here, so that its join meets the rows in
      // the opposite order to the cancel's index scan.
      const descending = [...ids].reverse();
      const pages = [0, 1, 2].map((k) => descending.slice(k * 400, (k + 1) * 400));
      const [queued, cancelled] = await Promise.all([
        Promise.all(pages.map((page, k) => withPlan(k % 2, (tx) => releaseHeldMessages(tx, released(page))))),
        withPlan(round % 2, (tx) => cancelHeldMessages(tx, campaignId)),
      ]);
      const byStatus = await db.sql<{ status: string; n: number }[]>`
        select status, count(*)::int as n from messages where campaign_id = ${campaignId}
        group by status order by status`;
      const counts = Object.fromEntries(byStatus.map((r) => [r.status, r.n]));
      expect(counts).toEqual({
        ...(cancelled > 0 ? { cancelled } : {}),
        ...(queued.flat().length > 0 ? { queued: queued.flat().length } : {}),
      });
      expect(cancelled + queued.flat().length).toBe(ids.length);
    }
  });
});
