import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { insertEvents } from '../tracking/store.js';
import { attributeCommittedPurchases, attributePurchases, attributeStoredTouches } from './attribute.js';

// Whatever order touches and purchases reach the database in, each side attributing once its
// rows are stored, the conversions are those of a history stored in time order.

let db: TestDatabase;
let campaignId: number;
let seq = 0;
beforeAll(async () => {
  db = await createTestDatabase();
  const [c] = await db.sql<{ id: number }[]>`
    insert into campaigns (name, status, attribution) values ('p', 'sent', '{"click_days": 2, "open_days": 1}')
    returning id`;
  campaignId = c!.id;
});
afterAll(async () => db.drop());

const BASE = Date.parse('2026-06-01T00:00:00Z');
const MINUTE = 60_000;

interface Touch {
  kind: 'opened' | 'clicked';
  message: number;
  minute: number;
}
interface Buy {
  minute: number;
  amount: number;
}

/** A customer with `messages` sent messages (each its own campaign message row). */
async function customerWith(messages: number): Promise<{ customerId: number; messageIds: number[] }> {
  const [c] = await db.sql<{ id: number }[]>`
    insert into customers (external_id) values (${`p-${++seq}`}) returning id`;
  const messageIds: number[] = [];
  for (let i = 0; i < messages; i++) {
    const [k] = await db.sql<{ id: number }[]>`
      insert into campaigns (name, status) values (${`p-${seq}-${i}`}, 'sent') returning id`;
    const [m] = await db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, status, sent_at)
      values (${i === 0 ? campaignId : k!.id}, ${c!.id}, 'sent', ${new Date(BASE - 10 * MINUTE)}) returning id`;
    messageIds.push(m!.id);
  }
  return { customerId: c!.id, messageIds };
}

async function storeTouch(customerId: number, messageIds: number[], t: Touch) {
  const event = {
    customer_id: customerId,
    kind: t.kind,
    message_id: messageIds[t.message]!,
    at: new Date(BASE + t.minute * MINUTE),
  };
  await insertEvents(db.sql, [event]);
  await attributeStoredTouches(db.sql, [event]);
}

async function storeBuy(customerId: number, b: Buy, index: number) {
  const rows = await db.sql.begin(async (tx) => {
    const inserted = await tx<{ id: number; customer_id: number; amount: number; purchased_at: Date }[]>`
      insert into purchases (external_line_id, customer_id, amount, purchased_at)
      values (${`l-${customerId}-${index}`}, ${customerId}, ${b.amount}, ${new Date(BASE + b.minute * MINUTE)})
      returning id, customer_id, amount, purchased_at`;
    await attributePurchases(tx, inserted);
    return inserted;
  });
  await attributeCommittedPurchases(
    db.sql,
    rows.map((r) => r.id),
  );
}

/** Each line's conversion: the index of the message and the touch, or null. */
async function conversions(customerId: number, messageIds: number[]) {
  const rows = await db.sql<{ line: string; message_id: number; touch: string; revenue: number }[]>`
    select p.external_line_id as line, e.message_id, e.data ->> 'touch' as touch, (e.data ->> 'revenue')::numeric as revenue
    from purchases p join contact_events e on e.purchase_id = p.id and e.kind = 'converted'
    where p.customer_id = ${customerId} order by p.external_line_id`;
  return rows.map((r) => ({
    line: r.line.split('-').pop(),
    message: messageIds.indexOf(r.message_id),
    touch: r.touch,
    revenue: r.revenue,
  }));
}

const touchArb = fc.record({
  kind: fc.constantFrom('opened' as const, 'clicked' as const),
  message: fc.nat(2),
  minute: fc.integer({ min: 0, max: 4000 }),
});
const buyArb = fc.record({
  minute: fc.integer({ min: 0, max: 4000 }),
  amount: fc.integer({ min: 1, max: 500 }),
});

describe('attribution whatever the arrival order (property)', () => {
  it('gives the same conversions as the history stored in time order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(touchArb, { minLength: 1, maxLength: 5, selector: (t) => t.minute }),
        fc.array(buyArb, { minLength: 1, maxLength: 4 }),
        fc.infiniteStream(fc.nat()),
        async (touches, buys, shuffle) => {
          // Reference: every touch stored before any purchase.
          const ref = await customerWith(3);
          for (const t of touches) await storeTouch(ref.customerId, ref.messageIds, t);
          for (const [i, b] of buys.entries()) await storeBuy(ref.customerId, b, i);
          // The same facts arriving in a shuffled order.
          const arrivals = [
            ...touches.map((t) => ({ touch: t })),
            ...buys.map((b, i) => ({ buy: b, index: i })),
          ];
          const draws = shuffle.take(arrivals.length)[Symbol.iterator]();
          for (let i = arrivals.length - 1; i > 0; i--) {
            const j = draws.next().value! % (i + 1);
            [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
          }
          const got = await customerWith(3);
          for (const a of arrivals) {
            if ('touch' in a) await storeTouch(got.customerId, got.messageIds, a.touch);
            else await storeBuy(got.customerId, a.buy, a.index);
          }
          expect(await conversions(got.customerId, got.messageIds)).toEqual(
            await conversions(ref.customerId, ref.messageIds),
          );
        },
      ),
      { numRuns: 25 },
    );
  });
});
