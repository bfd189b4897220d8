import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { assertValidRule } from '../rules/compile.js';
import { ruleToSql } from '../rules/to-sql.js';
import { countAudience, segmentAudiencePage } from './audience.js';

/*
 * Differential property test for custom events: for random did_event / event_count rules
 * (with filters over properties), the SQL translation selects exactly the customers that
 * in-process evaluation over the rule context's events selects.
 */

let db: TestDatabase;
const now = new Date('2026-03-15T12:34:56.789Z');
const DAY = 86_400_000;
const NAMES = ['cart_updated', 'product_viewed', 'Order Completed'];
const SKUS = ['A1', 'B2', 'C3'];

const propertiesArb = fc.record(
  {
    sku: fc.oneof(fc.constantFrom(...SKUS), fc.constant(null), fc.integer({ min: 1, max: 3 })),
    value: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom('10', true)),
    paid: fc.boolean(),
    item: fc.record({ color: fc.constantFrom('red', 'blue') }),
  },
  { requiredKeys: [] },
);

const customerArb = fc.array(
  fc.record({
    name: fc.constantFrom(...NAMES),
    ago: fc.integer({ min: -DAY, max: 120 * DAY }),
    properties: propertiesArb,
  }),
  { maxLength: 6 },
);

const literal = fc.oneof(
  fc.constantFrom(...SKUS, 'red', 'blue', '10'),
  fc.integer({ min: 0, max: 100 }),
  fc.boolean(),
);
const path = fc.constantFrom('sku', 'value', 'paid', 'item.color', 'missing');
const strict = fc
  .tuple(fc.constantFrom('===', '!=='), path, literal, fc.boolean())
  .map(([op, p, v, flip]) => ({ [op]: flip ? [v, { var: p }] : [{ var: p }, v] }));
const inList = fc.tuple(path, fc.subarray([...SKUS, 'red'])).map(([p, l]) => ({ in: [{ var: p }, l] }));
const { filter: filterArb } = fc.letrec<{ filter: unknown }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: strict },
    { weight: 2, arbitrary: inList },
    {
      weight: 1,
      arbitrary: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((a) => ({ and: a })),
    },
    { weight: 1, arbitrary: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }).map((a) => ({ or: a })) },
    { weight: 1, arbitrary: tie('filter').map((f) => ({ '!': f })) },
  ),
}));
const days = fc.integer({ min: 0, max: 150 });
const didEvent = fc
  .tuple(fc.constantFrom(...NAMES, 'never_seen'), days, fc.option(filterArb, { nil: undefined }))
  .map(([n, d, f]) => ({ did_event: f === undefined ? [n, d] : [n, d, f] }));
const eventCount = fc
  .tuple(
    fc.constantFrom('<', '<=', '>', '>=', '==', '==='),
    fc.constantFrom(...NAMES),
    days,
    fc.integer({ min: 0, max: 4 }),
  )
  .map(([op, n, d, v]) => ({ [op]: [{ event_count: [n, d] }, v] }));
const ruleArb = fc.oneof(
  didEvent,
  eventCount,
  fc.tuple(didEvent, eventCount).map(([a, b]) => ({ and: [a, b] })),
  fc.tuple(didEvent, didEvent).map(([a, b]) => ({ or: [a, { '!': b }] })),
);

beforeAll(async () => {
  db = await createTestDatabase();
  const customers = fc.sample(customerArb, { numRuns: 40, seed: 26 });
  for (const [i, events] of customers.entries()) {
    const [c] = await db.sql<
      { id: number }[]
    >`insert into customers (external_id) values (${`e${i}`}) returning id`;
    for (const [j, e] of events.entries()) {
      await db.sql`insert into events (customer_id, name, properties, message_id, at)
        values (${c!.id}, ${e.name}, ${db.sql.json(e.properties as never)}, ${`m${i}-${j}`}, ${new Date(now.getTime() - e.ago)})`;
    }
  }
});
afterAll(async () => db?.drop());

describe('event rules: SQL and in process agree', () => {
  it('selects the same customers for random did_event / event_count rules', async () => {
    let translated = 0;
    await fc.assert(
      fc.asyncProperty(ruleArb, async (rule) => {
        assertValidRule(rule, 'rule');
        const plan = ruleToSql(db.sql, rule, now);
        if (plan) translated++;
        const inSql = await segmentAudiencePage(db.sql, rule, { limit: 1000, now });
        const inProcess = await segmentAudiencePage(db.sql, rule, { limit: 1000, now, evaluation: 'stream' });
        expect(inSql).toEqual(inProcess);
      }),
      { numRuns: 120, seed: 11 },
    );
    expect(translated).toBeGreaterThan(60);
    const some = await countAudience(db.sql, { did_event: ['cart_updated', 150] }, { now });
    expect(some.evaluation).toBe('sql');
    expect(some.count).toBeGreaterThan(0);
  });
});
