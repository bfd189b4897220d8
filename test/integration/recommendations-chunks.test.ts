import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Sql } from '../../src/db/sql.js';
import { computeFeeds } from '../../src/products/compute-feeds.js';
import { feedSettings, rebuildPairs } from '../../src/products/recommend-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';

// A full refresh computes the feeds range of customers by range. Whatever the size of the
// ranges, the feeds (items, scores, reasons, in order) and the pooled replenishment priors are
// those of one pass over every customer, and a customer refreshed alone gets the same feeds.

let db: TestDatabase;
const NOW = new Date('2026-06-01T12:00:00Z');

type Snapshot = { lists: unknown[]; priors: unknown[] };

/** Pairs and every feed at the fixed instant, with ranges of `chunkSize` customers; rolled back. */
async function fullRefresh(sql: Sql, chunkSize: number): Promise<Snapshot> {
  let out: Snapshot = { lists: [], priors: [] };
  await sql
    .begin(async (tx) => {
      const settings = await feedSettings(tx);
      await rebuildPairs(tx, NOW, settings.get('bought_together')!);
      await computeFeeds(tx, { ids: null, now: NOW, settings, chunkSize });
      out = await snapshot(tx);
      throw new Rollback();
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return out;
}

class Rollback extends Error {}

async function snapshot(sql: Db): Promise<Snapshot> {
  const lists = await sql`
    select customer_id, feed, skus, scores, reasons from recommendation_lists order by customer_id, feed`;
  const priors = await sql`select category, mean_days, k from recommendation_priors order by category`;
  return { lists: [...lists], priors: [...priors] };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const { sql } = db;
  // 60 customers in three locales (some with preferred categories, one erased), 40 products in
  // six categories (some out of stock, one inactive, a third new), orders of two or three lines
  // over a year with some lines carrying their own category.
  await sql`
    insert into customers (external_id, email, locale, preferred_categories)
    select 'c' || i, 'c' || i || '@example.com', (array['en-GB', 'fr-FR', null])[1 + i % 3],
      case when i % 5 = 0 then array['cat' || (i % 6)] else '{}' end
    from generate_series(1, 60) as i`;
  await sql`update customers set erased_at = ${NOW} where external_id = 'c13'`;
  await sql`
    insert into products (sku, title, price, currency, category, stock, active, created_at)
    select 'P' || i, jsonb_build_object('en', 'Product ' || i, 'fr', 'Produit ' || i), 5 + i, 'EUR',
      'cat' || (i % 6), case when i % 9 = 0 then 0 else 5 end, i <> 17,
      ${NOW}::timestamptz - make_interval(days => (i * 7) % 90)
    from generate_series(1, 40) as i`;
  await sql`
    insert into purchases (external_line_id, customer_id, order_ref, sku, category, amount, purchased_at)
    select 'l' || c.id || '-' || k, c.id, 'o' || c.id || '-' || (k / 3),
      'P' || (1 + (c.id * 7 + (k / 3) * 11 + (k % 3) * ((c.id + k) % 4 + 1)) % 40),
      case when k % 7 = 0 then 'line-cat' || (k % 2) end,
      10, ${NOW}::timestamptz - make_interval(days => ((c.id * 13 + k * 29) % 365)::int)
    from customers c, generate_series(0, (c.id % 9) + 2) as k`;
});

afterAll(async () => {
  await db?.drop();
});

describe('recommendations refresh in ranges of customers', () => {
  it('writes the same feeds and priors as one pass over everyone, whatever the range size', async () => {
    const whole = await fullRefresh(db.sql, 1_000_000);
    expect(whole.lists.length).toBeGreaterThan(100);
    expect(whole.priors.length).toBeGreaterThan(3);
    // Every feed is exercised by the fixture.
    const feeds = new Set(whole.lists.map((l) => (l as { feed: string }).feed));
    expect([...feeds].sort()).toEqual(['bought_together', 'new_arrivals', 'replenish', 'top_in_category']);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70 }), async (size) => {
        expect(await fullRefresh(db.sql, size)).toEqual(whole);
      }),
      { numRuns: 8 },
    );
  });

  it('gives a customer refreshed alone the feeds the full refresh gave them', async () => {
    const { sql } = db;
    const settings = await feedSettings(sql);
    await sql.begin(async (tx) => {
      await rebuildPairs(tx, NOW, settings.get('bought_together')!);
      await computeFeeds(tx, { ids: null, now: NOW, settings, chunkSize: 9 });
    });
    const full = await snapshot(sql);
    const ids = [1, 2, 5, 30, 59];
    for (const id of ids) {
      await sql.begin((tx) => computeFeeds(tx, { ids: [id], now: NOW, settings }));
    }
    const after = await snapshot(sql);
    expect(after).toEqual(full);
    const one = (l: unknown) => ids.includes((l as { customer_id: number }).customer_id);
    expect(after.lists.filter(one).length).toBeGreaterThan(5);
  });

  it('rewrites only the lists that changed, drops feeds that came out empty, and dates reads by the last run', async () => {
    const { sql } = db;
    const settings = await feedSettings(sql);
    const refresh = (now: Date, s = settings) =>
      sql.begin(async (tx) => {
        await rebuildPairs(tx, now, s.get('bought_together')!);
        await computeFeeds(tx, { ids: null, now, settings: s, chunkSize: 11 });
      });
    const versions = async () =>
      new Map(
        (
          await sql<{ key: string; xmin: string }[]>`
            select customer_id || '/' || feed as key, xmin::text as xmin from recommendation_lists`
        ).map((r) => [r.key, r.xmin]),
      );
    await refresh(NOW);
    const before = await versions();
    const lists = (await snapshot(sql)).lists;
    // The same data at the same instant: every list is left as it was, not rewritten.
    const later = new Date(NOW.getTime() + 1000);
    await refresh(NOW);
    expect(await versions()).toEqual(before);
    expect((await snapshot(sql)).lists).toEqual(lists);
    // Readers see when the feeds were computed, not when a list last changed.
    await sql`update recommendation_runs set computed_at = ${later}`;
    const [read] = await sql<{ computed_at: Date }[]>`
      select distinct computed_at from product_recommendations
      where customer_id in (select id from customers where erased_at is null)`;
    expect(read!.computed_at.toISOString()).toBe(later.toISOString());
    // A product out of stock: only the lists that held it change.
    const [held] = await sql<{ sku: string }[]>`
      select sku from product_recommendations where feed = 'top_in_category' group by sku order by count(*) desc limit 1`;
    await sql`update products set in_stock = false, stock = null where sku = ${held!.sku}`;
    await refresh(NOW);
    const after = await versions();
    // Rewritten, or dropped when the product was all the list held.
    const rewritten = [
      ...[...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k),
      ...[...before.keys()].filter((k) => !after.has(k)),
    ];
    const holders = lists
      .filter((l) => (l as { skus: string[] }).skus.includes(held!.sku))
      .map((l) => `${(l as { customer_id: number }).customer_id}/${(l as { feed: string }).feed}`);
    expect(rewritten.length).toBeGreaterThan(0);
    expect(rewritten.sort()).toEqual(holders.sort());
    // A feed set to leave bought items out has no replenishment left: its lists are dropped.
    const noReplenish = new Map(settings);
    noReplenish.set('replenish', { ...settings.get('replenish')!, exclude_bought: true });
    await refresh(NOW, noReplenish);
    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from recommendation_lists where feed = 'replenish'`;
    expect(left!.n).toBe(0);
  });
});
