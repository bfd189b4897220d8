import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimCodes } from '../../src/offers/code-store.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// The claim of a message's codes for all its pooled offers in one statement: each offer gets
// one code, a retry reads back the same, and concurrent claims never share or lose a code.

let h: Harness;
let customerId: number;
const offers: number[] = [];

beforeAll(async () => {
  h = await createHarness();
  const [c] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values ('claimer', 'claimer@example.com') returning id`;
  customerId = c!.id;
  for (const name of ['a', 'b']) {
    const [o] = await h.db.sql<
      { id: number }[]
    >`insert into offers (name, title) values (${name}, ${name}) returning id`;
    offers.push(o!.id);
    await h.db.sql`
      insert into offer_codes (offer_id, code)
      select ${o!.id}, ${name} || '-' || i from generate_series(1, 10) as i`;
  }
});
afterAll(async () => {
  await h?.close();
});

const newMessages = (n: number) => h.db.sql<{ id: number }[]>`
  insert into messages (customer_id, status) select ${customerId}, 'sending' from generate_series(1, ${n})
  returning id`;

describe('claimCodes', () => {
  it('claims one code per pooled offer, and a retry of the message reads back the same codes', async () => {
    const [m] = await newMessages(1);
    const first = await claimCodes(h.db.sql, { messageId: m!.id, offerIds: offers, customerId });
    expect([...first.keys()].sort()).toEqual([...offers].sort());
    expect(first.get(offers[0]!)).toMatch(/^a-/);
    expect(first.get(offers[1]!)).toMatch(/^b-/);
    const again = await claimCodes(h.db.sql, { messageId: m!.id, offerIds: offers, customerId });
    expect(again).toEqual(first);
    expect(await claimCodes(h.db.sql, { messageId: m!.id, offerIds: [], customerId })).toEqual(new Map());
  });

  it('never gives one code to two messages, and leaves out an offer whose pool ran dry', async () => {
    const messages = await newMessages(12);
    const claims = await Promise.all(
      messages.map((m) => claimCodes(h.db.sql, { messageId: m.id, offerIds: offers, customerId })),
    );
    // 9 codes were left in each pool: 9 messages got one of each, 3 got none.
    for (const offer of offers) {
      const codes = claims.map((c) => c.get(offer)).filter((c) => c !== undefined);
      expect(codes).toHaveLength(9);
      expect(new Set(codes).size).toBe(9);
    }
    const [row] = await h.db.sql<{ free: number; held: number }[]>`
      select count(*) filter (where message_id is null)::int as free,
        count(distinct (message_id, offer_id)) filter (where message_id is not null)::int as held
      from offer_codes`;
    expect(row).toEqual({ free: 0, held: 20 });
  });
});
