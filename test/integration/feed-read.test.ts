import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Feed, selectFeedsMany } from '../../src/products/recommend-store.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// The feed read at send time (one statement for every mail rendered at once) against a plain
// reference: each reader's stored feed, less what is inactive, out of stock or (when the feed
// leaves bought items out) bought, cut to its limit after that recheck, in rank order.

let h: Harness;
const SKUS = Array.from({ length: 10 }, (_, i) => `FR-${i}`);
const FEEDS: Feed[] = ['bought_together', 'replenish'];
let customers: number[] = [];
let line = 0;

beforeAll(async () => {
  h = await createHarness();
  await h.deps.sql`
    insert into products (sku, title, price, currency, category)
    select sku, jsonb_build_object('en', 'T ' || sku, 'fr', 'F ' || sku), 10, 'EUR', 'c'
    from unnest(${SKUS}::text[]) as u(sku)`;
  customers = (
    await h.deps.sql<{ id: number }[]>`
      insert into customers (external_id, email) select 'feed-' || g, 'feed-' || g || '@example.com'
      from generate_series(1, 3) g returning id`
  ).map((r) => r.id);
});

afterAll(async () => {
  await h?.close();
});

const state = fc.record({
  // Per product: active, in stock.
  products: fc.array(fc.record({ active: fc.boolean(), inStock: fc.boolean() }), {
    minLength: SKUS.length,
    maxLength: SKUS.length,
  }),
  excludeBought: fc.record({ bought_together: fc.boolean(), replenish: fc.boolean() }),
  // Per customer and feed: the stored list (a permutation prefix of the skus) and what they bought.
  lists: fc.array(
    fc.record({
      bought_together: fc.uniqueArray(fc.nat(SKUS.length - 1), { maxLength: 8 }),
      replenish: fc.uniqueArray(fc.nat(SKUS.length - 1), { maxLength: 8 }),
      bought: fc.uniqueArray(fc.nat(SKUS.length - 1), { maxLength: 4 }),
    }),
    { minLength: 3, maxLength: 3 },
  ),
  asks: fc.array(
    fc.record({
      customer: fc.nat(2),
      locale: fc.constantFrom('en-GB', 'fr-FR'),
      feeds: fc.array(fc.record({ feed: fc.constantFrom(...FEEDS), limit: fc.integer({ min: 1, max: 6 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

describe('selectFeedsMany', () => {
  it('cuts each feed to its limit after the recheck, for every state of the catalogue', async () => {
    const sql = h.deps.sql;
    await fc.assert(
      fc.asyncProperty(state, async (s) => {
        await sql`delete from recommendation_lists`;
        await sql`delete from purchases`;
        for (const [i, p] of s.products.entries())
          await sql`update products set active = ${p.active}, in_stock = ${p.inStock} where sku = ${SKUS[i]!}`;
        for (const feed of FEEDS)
          await sql`update recommendation_feeds set exclude_bought = ${s.excludeBought[feed as 'replenish']} where feed = ${feed}`;
        for (const [c, list] of s.lists.entries()) {
          for (const feed of FEEDS) {
            const skus = list[feed as 'replenish'].map((k) => SKUS[k]!);
            if (skus.length === 0) continue;
            await sql`
              insert into recommendation_lists (customer_id, feed, skus, scores, reasons, computed_at)
              values (${customers[c]!}, ${feed}, ${skus}, ${skus.map(() => 1)}, ${skus.map((k) => `why ${k}`)}, now())`;
          }
          for (const k of list.bought)
            await sql`
              insert into purchases (external_line_id, customer_id, sku, amount, purchased_at)
              values (${`feed-line-${++line}`}, ${customers[c]!}, ${SKUS[k]!}, 10, now())`;
        }
        const asks = s.asks.map((a) => ({
          customerId: customers[a.customer]!,
          locale: a.locale,
          feeds: a.feeds,
        }));
        const got = await selectFeedsMany(sql, asks);
        const expected = s.asks.map((a) => {
          const list = s.lists[a.customer]!;
          const limits = new Map<Feed, number>();
          for (const f of a.feeds) limits.set(f.feed, Math.max(f.limit, limits.get(f.feed) ?? 0));
          return [...limits.keys()].sort().flatMap((feed) =>
            list[feed as 'replenish']
              .map((k, i) => ({ k, rank: i + 1 }))
              .filter(({ k }) => s.products[k]!.active && s.products[k]!.inStock)
              .filter(({ k }) => !(s.excludeBought[feed as 'replenish'] && list.bought.includes(k)))
              .slice(0, limits.get(feed))
              .map(({ k, rank }) => ({
                feed,
                rank,
                sku: SKUS[k]!,
                title: `${a.locale === 'fr-FR' ? 'F' : 'T'} ${SKUS[k]!}`,
                reason: `why ${SKUS[k]!}`,
              })),
          );
        });
        expect(
          got.map((rows) =>
            rows.map(({ feed, rank, sku, title, reason }) => ({ feed, rank, sku, title, reason })),
          ),
        ).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });
});
