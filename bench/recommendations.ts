import type { Sql } from '../src/db/sql.js';
import { claimCode } from '../src/offers/code-store.js';
import { refreshRecommendations } from '../src/products/refresh.js';
import { type Bench, type BenchResult, time, withScratchDatabase } from './harness.js';

// Recommendations: a full refresh (co-purchase pairs, then every feed of every customer) over
// 100,000 customers, 10,000 products and 2,000,000 purchase lines at BENCH_SCALE=1 (the size
// scales all three). The baseline is the bare co-purchase self-join over the same lines (the
// least work any item-to-item approach does), in the same database and run. A second refresh
// over the same data is timed too (what the nightly run costs when little changed).
// Code claiming: messages claim unique codes from one pool, BENCH_CLAIMERS at once; the
// baseline updates the same number of rows by known id (no search, no contention). Collisions
// (a code held by two messages) are counted: the unique index would refuse them, so any is a bug.
// How the refresh grows: the same refresh over a tenth of the data, in a database of its own,
// first; a refresh that grows with its size costs about 10x as much at the full size.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const GROWTH = 10;
const sizes = (scale: number) => ({
  customers: Math.max(500, Math.round(100_000 * scale)),
  products: Math.max(50, Math.round(10_000 * scale)),
});
const { customers: CUSTOMERS } = sizes(SCALE);
const LINES_PER_CUSTOMER = 20;
const CLAIMS = Math.max(500, Math.round(20_000 * SCALE));
const CLAIMERS = Number(process.env.BENCH_CLAIMERS ?? 16);
const CATEGORIES = 40;

async function seed(sql: Sql, scale: number): Promise<void> {
  const { customers, products } = sizes(scale);
  await sql`
    insert into customers (external_id, email, locale)
    select 'r' || i, 'r' || i || '@example.com', (array['en-GB', 'fr-FR', 'de-DE'])[1 + i % 3]
    from generate_series(1, ${customers}) as i`;
  await sql`
    insert into products (sku, title, price, currency, category, stock, created_at)
    select 'SKU' || i, jsonb_build_object('en', 'Product ' || i, 'fr', 'Produit ' || i), 5 + i % 200, 'EUR',
      'cat' || (i % ${CATEGORIES}), case when i % 20 = 0 then 0 else 10 end, now() - make_interval(days => i % 90)
    from generate_series(1, ${products}) as i`;
  // Orders of two lines: a product and one of a few "companions" (so pairs have support).
  await sql`
    insert into purchases (external_line_id, customer_id, order_ref, sku, amount, purchased_at)
    select 'l' || c.id || '-' || k, c.id, 'o' || c.id || '-' || (k / 2),
      'SKU' || (1 + ((c.id * 7 + (k / 2) * 13) % ${products}) + (k % 2) * ((c.id + k) % 3 + 1)) % ${products} + 1,
      10, now() - make_interval(days => ((c.id * 11 + k * 17) % 360)::int)
    from customers c, generate_series(0, ${LINES_PER_CUSTOMER - 1}) as k`;
  await sql`analyze`;
}

async function coPurchaseBaseline(sql: Sql): Promise<number> {
  return time(async () => {
    await sql`
      select count(*) from (
        select a.sku, b.sku as other, count(*) as support
        from purchases a join purchases b
          on b.customer_id = a.customer_id and b.order_ref = a.order_ref and b.sku <> a.sku
        group by 1, 2 having count(*) >= 2) pairs`;
  });
}

async function claimBench(
  sql: Sql,
): Promise<{ seconds: number; baseline: number; collisions: number; claimed: number }> {
  const [offer] = await sql<
    { id: number }[]
  >`insert into offers (name, title) values ('bench', 'Bench') returning id`;
  await sql`
    insert into offer_codes (offer_id, code)
    select ${offer!.id}, 'C' || lpad(i::text, 9, '0') from generate_series(1, ${CLAIMS * 2}) as i`;
  const messages = await sql<{ id: number; customer_id: number }[]>`
    insert into messages (customer_id, status)
    select 1 + (i % ${CUSTOMERS}), 'sending' from generate_series(1, ${CLAIMS}) as i
    returning id, customer_id`;
  let next = 0;
  const seconds = await time(() =>
    Promise.all(
      Array.from({ length: CLAIMERS }, async () => {
        while (next < messages.length) {
          const m = messages[next++]!;
          await claimCode(sql, { messageId: m.id, offerId: offer!.id, customerId: m.customer_id });
        }
      }),
    ),
  );
  const [check] = await sql<{ claimed: number; distinct_codes: number; distinct_messages: number }[]>`
    select count(*)::int as claimed, count(distinct code)::int as distinct_codes,
      count(distinct message_id)::int as distinct_messages
    from offer_codes where offer_id = ${offer!.id} and message_id is not null`;
  // Baseline: the same number of single-row updates by primary key, as many at once.
  const ids = await sql<{ id: number }[]>`
    select id from offer_codes where offer_id = ${offer!.id} and message_id is null order by id limit ${CLAIMS}`;
  let k = 0;
  const baseline = await time(() =>
    Promise.all(
      Array.from({ length: CLAIMERS }, async () => {
        while (k < ids.length) {
          const id = ids[k++]!.id;
          await sql`update offer_codes set claimed_at = now() where id = ${id}`;
        }
      }),
    ),
  );
  return {
    seconds,
    baseline,
    claimed: check!.claimed,
    collisions: check!.claimed - Math.min(check!.distinct_codes, check!.distinct_messages),
  };
}

/** Seconds of one full refresh of every feed, and the items it wrote. */
async function timeRefresh(sql: Sql): Promise<{ seconds: number; rows: number }> {
  let rows = 0;
  const seconds = await time(async () => {
    rows = (await refreshRecommendations({ sql, clock: () => new Date() })).rows;
  });
  return { seconds, rows };
}

const bench: Bench = {
  name: 'recommendations',
  async run(): Promise<BenchResult[]> {
    const small = await withScratchDatabase('recommendations_small', 2, async (sql) => {
      await seed(sql, SCALE / GROWTH);
      return timeRefresh(sql);
    });
    return withScratchDatabase('recommendations', CLAIMERS + 2, async (sql) => {
      await seed(sql, SCALE);
      const baseline = await coPurchaseBaseline(sql);
      const { seconds: refresh, rows } = await timeRefresh(sql);
      // The nightly case: the same refresh again over unchanged purchases (no list is rewritten).
      const { seconds: again } = await timeRefresh(sql);
      const lookup = await time(async () => {
        for (let id = 1; id <= 200; id++) {
          await sql`select sku from product_recommendations where customer_id = ${id} and feed = 'bought_together' order by rank limit 3`;
        }
      });
      const claims = await claimBench(sql);
      const size: Record<string, number> = {
        customers: CUSTOMERS,
        products: sizes(SCALE).products,
        lines: CUSTOMERS * LINES_PER_CUSTOMER,
      };
      // Customers grow GROWTH-fold from the small run (less where the floor of 500 held).
      const grown = CUSTOMERS / sizes(SCALE / GROWTH).customers;
      const results: BenchResult[] = [
        {
          name: 'recommendations refresh (all feeds, all customers)',
          value: refresh,
          unit: 's',
          baseline: 'bare co-purchase self-join',
          baseline_value: baseline,
          ratio: baseline / refresh,
          notes: {
            ...size,
            rows,
            lookup_ms_per_customer: Math.round((lookup / 200) * 100_000) / 100,
            [`refresh_s_at_1/${GROWTH}`]: Math.round(small.seconds * 100) / 100,
            size_growth: Math.round(grown * 100) / 100,
            time_growth: Math.round((refresh / small.seconds) * 100) / 100,
            refresh_again_s: Math.round(again * 100) / 100,
          },
        },
        {
          name: 'unique code claims',
          value: claims.claimed / claims.seconds,
          unit: 'claims/s',
          baseline: 'single-row updates by id',
          baseline_value: claims.claimed / claims.baseline,
          ratio: claims.baseline / claims.seconds,
          target: 1000,
          notes: { claimers: CLAIMERS, claimed: claims.claimed, collisions: claims.collisions },
        },
      ];
      return results;
    });
  },
};

export default bench;
