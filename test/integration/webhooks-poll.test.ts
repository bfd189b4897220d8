import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/sql.js';
import { insertJourneyWebhook } from '../../src/journeys/entry-store.js';
import { claimDeliveries, recordAttempts, selectDueDeliveries } from '../../src/webhooks/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';
import { until } from '../helpers/until.js';

// The webhook poll reads one page whatever the backlog, and the `held` flag it relies on says
// exactly what the in-order-per-customer rule says. Rows read are counted with PostgreSQL's
// own per-transaction statistics (no timing).

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.sql`delete from webhook_deliveries`;
  await db.sql`delete from webhook_endpoints`;
  await db.sql`insert into webhook_endpoints (url, events, secret)
    values ('http://127.0.0.1:9/hook', ${['message.sent']}, 'whsec_dGVzdA==')`;
});

/** Emits one message.sent per customer id, in order, as the database triggers do. */
async function emit(sql: Db, customers: readonly (number | null)[], from = 0) {
  await sql`select webhook_emit('message.sent', c.customer, 'm' || (${from}::int + c.n), now(), '{}'::jsonb)
    from unnest(${customers as number[]}::bigint[]) with ordinality as c(customer, n) order by c.n`;
}

/** Rows of webhook_deliveries the statements of `fn` read (index and sequential scans). */
async function rowsRead(fn: (sql: Db) => Promise<unknown>): Promise<number> {
  return db.sql.begin(async (sql) => {
    const stat = async () => {
      const [r] = await sql<{ n: string }[]>`
        select pg_stat_get_xact_tuples_fetched('webhook_deliveries'::regclass)
          + pg_stat_get_xact_tuples_returned('webhook_deliveries'::regclass) as n`;
      return Number(r!.n);
    };
    const before = await stat();
    await fn(sql);
    return (await stat()) - before;
  }) as Promise<number>;
}

/** The deliveries the rule lets go out: pending, and no older untried one of its customer. */
async function mayGoOut(): Promise<number[]> {
  const rows = await db.sql<{ id: string }[]>`
    select d.id from webhook_deliveries d where d.status = 'pending' and not exists (
      select 1 from webhook_deliveries o where o.endpoint_id = d.endpoint_id and o.customer_id = d.customer_id
        and o.status = 'pending' and o.attempts = 0 and o.id < d.id)
    order by d.id`;
  return rows.map((r) => Number(r.id));
}

async function notHeld(): Promise<number[]> {
  const rows = await db.sql<{ id: string }[]>`
    select id from webhook_deliveries where status = 'pending' and not held order by id`;
  return rows.map((r) => Number(r.id));
}

describe('webhook poll', () => {
  it('reads one page of rows, not the backlog, however many wait behind one customer', async () => {
    // 3,000 deliveries about one customer, then 10 each about 200 others.
    const busy = Array.from({ length: 3000 }, () => 1);
    const many = Array.from({ length: 2000 }, (_, i) => 100 + Math.floor(i / 10));
    await emit(db.sql, [...busy, ...many]);
    await db.sql`analyze webhook_deliveries`;
    type Page = { id: number; attempts: number; next_attempt_at: Date }[];
    let page: Page = [];
    const read = await rowsRead(async (sql) => {
      page = await selectDueDeliveries(sql, 100);
    });
    // The first of each customer, in order: the busy one's first, then 99 of the others.
    expect(page).toHaveLength(100);
    const ids = page.map((d) => Number(d.id));
    expect(ids).toEqual((await mayGoOut()).slice(0, 100));
    // An anti-join per row read the 2,999 held behind the busy customer, and more.
    expect(read).toBeLessThanOrEqual(110);
    // The next page starts after the last one: still one page of rows.
    const last = page.at(-1)!;
    const readNext = await rowsRead(async (sql) => {
      page = await selectDueDeliveries(sql, 100, { at: last.next_attempt_at, id: Number(last.id) });
    });
    expect(page).toHaveLength(100);
    expect(readNext).toBeLessThanOrEqual(110);
  });

  it("a journey's webhook step is held behind its customer's older untried delivery, as an emitted one is", async () => {
    await emit(db.sql, [7]);
    const [endpoint] = await db.sql<{ id: string }[]>`select id from webhook_endpoints`;
    const step = (msg: string, customer: number) =>
      insertJourneyWebhook(db.sql, {
        endpoint_id: Number(endpoint!.id),
        customer_id: customer,
        msg_id: msg,
        at: new Date(),
        data: { step: 'hook' },
      });
    expect(await step('j1', 7)).toBe(true);
    expect(await step('j2', 8)).toBe(true);
    const held = await db.sql<{ msg_id: string; held: boolean }[]>`
      select msg_id, held from webhook_deliveries order by id`;
    expect(held).toEqual([
      { msg_id: 'm1', held: false },
      { msg_id: 'j1', held: true },
      { msg_id: 'j2', held: false },
    ]);
    expect(await notHeld()).toEqual(await mayGoOut());
    // The one in front attempted: the step's delivery is released.
    const claimed = await claimDeliveries(db.sql, [Number((await mayGoOut())[0])], 60);
    await recordAttempts(db.sql, [
      { id: Number(claimed[0]!.id), status: 'succeeded', httpStatus: 200, error: null },
    ]);
    expect(await notHeld()).toEqual(await mayGoOut());
    expect(await notHeld()).toHaveLength(2);
  });

  it('held says what the order per customer says, through emits, claims and recorded attempts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }), { minLength: 1, maxLength: 25 }),
        fc.array(
          fc.record({
            outcome: fc.constantFrom('succeeded', 'pending', 'failed') as fc.Arbitrary<
              'succeeded' | 'pending' | 'failed'
            >,
            take: fc.integer({ min: 1, max: 5 }),
            more: fc.array(fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }), { maxLength: 4 }),
          }),
          { maxLength: 8 },
        ),
        async (first, rounds) => {
          await db.sql`delete from webhook_deliveries`;
          let n = 0;
          await emit(db.sql, first, n);
          n += first.length;
          for (const round of rounds) {
            expect(await notHeld()).toEqual(await mayGoOut());
            // Attempt some of what the poll offers; retries come due at once.
            const due = await selectDueDeliveries(db.sql, round.take);
            const claimed = await claimDeliveries(
              db.sql,
              due.map((d) => Number(d.id)),
              60,
            );
            if (round.more.length > 0) {
              await emit(db.sql, round.more, n);
              n += round.more.length;
            }
            await recordAttempts(
              db.sql,
              claimed.map((c) => ({
                id: Number(c.id),
                status: round.outcome,
                httpStatus: round.outcome === 'succeeded' ? 200 : 500,
                error: null,
                ...(round.outcome === 'pending' ? { next: new Date(Date.now() - 1000) } : {}),
              })),
            );
          }
          expect(await notHeld()).toEqual(await mayGoOut());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a delivery written while the one in front of it is recorded is not held for good', async () => {
    await emit(db.sql, [7]);
    const [a] = await db.sql<{ id: string }[]>`select id from webhook_deliveries`;
    const first = Number(a!.id);
    const outcome = { id: first, status: 'succeeded' as const, httpStatus: 200, error: null };
    // The write first: it locks the one in front, so the record waits and its release sees it.
    let emitted: () => void = () => {};
    const inFront = new Promise<void>((resolve) => {
      emitted = resolve;
    });
    let commit: () => void = () => {};
    const committing = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const writing = db.sql.begin(async (sql) => {
      await emit(sql, [7], 1);
      emitted();
      await committing;
    });
    await inFront;
    let recorded = false;
    const recording = recordAttempts(db.sql, [outcome]).then(() => {
      recorded = true;
    });
    // Until it waits for the write's lock (or, had the write taken none, is done).
    await until(
      async () =>
        recorded ||
        (
          await db.sql`select 1 from pg_locks l join pg_stat_activity a using (pid)
            where not l.granted and a.datname = current_database()`
        ).length > 0,
    );
    commit();
    await Promise.all([writing, recording]);
    expect(await notHeld()).toEqual(await mayGoOut());
    expect(await notHeld()).toHaveLength(1);
    // The record first: the write does not wait for it, and what it writes is not held.
    await emit(db.sql, [8], 10);
    const [b] = await db.sql<{ id: string }[]>`select id from webhook_deliveries where customer_id = 8`;
    await db.sql.begin(async (sql) => {
      await recordAttempts(sql, [{ ...outcome, id: Number(b!.id) }]);
      await emit(db.sql, [8], 11);
    });
    expect(await notHeld()).toEqual(await mayGoOut());
    expect(await notHeld()).toHaveLength(2);
  });
});
