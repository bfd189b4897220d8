import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { evaluateRule } from './compile.js';
import { buildContext, buildContexts } from './context.js';

let db: TestDatabase;
const now = new Date('2025-06-15T12:00:00.000Z');
let alice: number;
let bob: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const sql = db.sql;
  const created = await sql<{ id: number }[]>`
    insert into customers (external_id, email, locale, birth_date, preferred_categories, attributes, created_at)
    values ('a', 'a@example.com', 'de', '1990-06-16', '{wine}', '{"diet": "vegan", "religion": "x", "vip": true}', '2025-01-01T00:00:00Z'),
           ('b', 'b@example.com', 'fr', null, '{}', '{}', '2025-06-01T00:00:00Z')
    returning id`;
  alice = created[0]?.id as number;
  bob = created[1]?.id as number;
  await sql`insert into attributes (key, type, sensitive, purpose) values
    ('diet', 'string', true, 'health'), ('religion', 'string', true, 'religion'), ('vip', 'boolean', false, null)`;
  await sql`insert into consents (customer_id, purpose, granted, source, at) values
    (${alice}, 'health', false, 'form', '2025-01-01'), (${alice}, 'health', true, 'form', '2025-02-01'),
    (${alice}, 'religion', true, 'form', '2025-01-01'), (${alice}, 'religion', false, 'form', '2025-03-01')`;
  await sql`insert into purchases (external_line_id, customer_id, order_ref, category, amount, purchased_at) values
    ('l1', ${alice}, 'o1', 'garden', 100.10, '2025-06-01T00:00:00Z'),
    ('l2', ${alice}, 'o1', 'wine', 50.00, '2025-06-01T00:00:00Z'),
    ('l3', ${alice}, null, 'garden', 20.00, '2025-03-01T00:00:00Z'),
    ('l4', ${alice}, 'o2', null, 9.90, '2022-01-01T00:00:00Z')`;
});
afterAll(async () => db.drop());

describe('buildContexts', () => {
  it('aggregates purchases and keeps sensitive attributes only with consent', async () => {
    const ctx = await buildContext(db.sql, alice, now);
    expect(ctx).toMatchObject({
      id: alice,
      locale: 'de',
      age: 34,
      days_since_signup: 165,
      total_spent: 180,
      orders_count: 3,
      avg_order_value: 60,
      first_purchase_at: '2022-01-01T00:00:00.000Z',
      last_purchase_at: '2025-06-01T00:00:00.000Z',
      days_since_last_purchase: 14,
      spend_by_category: { garden: 120.1, wine: 50 },
      top_category: 'garden',
      categories_bought: ['garden', 'wine'],
      consents: ['health'],
      attributes: { diet: 'vegan', vip: true },
      now: now.toISOString(),
    });
    // The 2022 line is older than the recent window.
    expect(ctx?.recent_purchases.map((p) => p.amount)).toEqual([50, 100.1, 20]);
  });

  it('gives customers without purchases zero totals and null dates', async () => {
    const map = await buildContexts(db.sql, [bob, alice, 999_999], now);
    expect([...map.keys()]).toEqual([bob, alice]);
    expect(map.get(bob)).toMatchObject({
      total_spent: 0,
      orders_count: 0,
      avg_order_value: null,
      last_purchase_at: null,
      days_since_last_purchase: null,
      spend_by_category: {},
      categories_bought: [],
      recent_purchases: [],
      age: null,
    });
  });

  it('feeds the custom operators', async () => {
    const ctx = await buildContext(db.sql, alice, now);
    expect(evaluateRule({ purchased_in: ['garden', 20] }, ctx)).toBe(true);
    expect(evaluateRule({ purchased_in: ['garden', 10] }, ctx)).toBe(false);
    expect(evaluateRule({ purchased_in: ['toys', null] }, ctx)).toBe(false);
    expect(evaluateRule({ spent_in: ['garden', 200] }, ctx)).toBe(120.1);
    expect(evaluateRule({ days_since: { var: 'last_purchase_at' } }, ctx)).toBe(14);
    expect(
      evaluateRule(
        { some: [{ var: 'recent_purchases' }, { '>': [{ days_since: { var: 'purchased_at' } }, 100] }] },
        ctx,
      ),
    ).toBe(true);
  });
});
