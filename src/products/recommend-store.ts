import type { Db } from '../db/sql.js';

// Recommendations computed in PostgreSQL, set-based over a scope of customers (all, or a few on
// demand). Every feed leaves out what is inactive or out of stock; those whose setting says so
// leave out what the customer already bought. A purchase names its product by sku; its category
// is the line's own or else the product's.

export const FEEDS = ['bought_together', 'top_in_category', 'replenish', 'new_arrivals'] as const;
export type Feed = (typeof FEEDS)[number];

/** Companions kept per sku: a customer's feed keeps at most 100 items, drawn from all their skus. */
export const MAX_PAIRS_PER_SKU = 30;

export interface FeedSettings {
  feed: Feed;
  exclude_bought: boolean;
  window_days: number;
  min_support: number;
  size: number;
}

/** Every feed's settings. */
export async function feedSettings(db: Db): Promise<Map<Feed, FeedSettings>> {
  const rows = await db<FeedSettings[]>`
    select feed, exclude_bought, window_days, min_support, size from recommendation_feeds`;
  return new Map(rows.map((r) => [r.feed, r]));
}

/** Changes one feed's settings. */
export async function updateFeedSettings(db: Db, feed: Feed, patch: Partial<Omit<FeedSettings, 'feed'>>) {
  const [row] = await db<FeedSettings[]>`
    update recommendation_feeds set
      exclude_bought = coalesce(${patch.exclude_bought ?? null}::boolean, exclude_bought),
      window_days = coalesce(${patch.window_days ?? null}::integer, window_days),
      min_support = coalesce(${patch.min_support ?? null}::integer, min_support),
      size = coalesce(${patch.size ?? null}::integer, size),
      updated_at = now()
    where feed = ${feed}
    returning feed, exclude_bought, window_days, min_support, size`;
  return row!;
}

/**
 * Rebuilds the co-purchase pairs: two skus in one order (the order's ref, else the line alone)
 * within the window, kept from `min_support` orders; lift = P(a and b) / (P(a) P(b)).
 * One statement: the baskets are read once, the self-join groups by the pair alone and the
 * lift is joined on afterwards (the sku counts are not carried through the join's rows).
 */
export async function rebuildPairs(db: Db, now: Date, s: FeedSettings): Promise<number> {
  const since = new Date(now.getTime() - s.window_days * 86_400_000);
  await db`delete from product_pairs`;
  const [row] = await db<{ orders: number }[]>`
    with baskets as materialized (
      select distinct customer_id, coalesce(order_ref, '#' || external_line_id) as ord, sku collate "C" as sku
      from purchases
      where kind = 'purchase' and sku is not null and purchased_at >= ${since}
    ),
    total as (select count(*)::float8 as orders from (select distinct customer_id, ord from baskets) o),
    counts as (select sku, count(*)::float8 as n from baskets group by sku),
    pairs as (
      select a.sku, b.sku as other_sku, count(*)::int as support
      from baskets a
      join baskets b on b.customer_id = a.customer_id and b.ord = a.ord and b.sku <> a.sku
      group by a.sku, b.sku
      having count(*) >= ${s.min_support}::int
    ),
    scored as (
      select p.sku, p.other_sku, p.support, p.support * t.orders / (ca.n * cb.n) as lift,
        row_number() over (partition by p.sku order by p.support * t.orders / (ca.n * cb.n) desc,
          p.support desc, p.other_sku) as r
      from pairs p join counts ca on ca.sku = p.sku join counts cb on cb.sku = p.other_sku cross join total t
    ),
    saved as (
      insert into product_pairs (sku, other_sku, support, lift)
      -- The strongest companions of each sku are all that a customer's feed can use.
      select sku, other_sku, support, lift from scored where r <= ${MAX_PAIRS_PER_SKU}::int
    )
    select orders::int as orders from total`;
  const orders = row?.orders ?? 0;
  await db`
    insert into recommendation_state (pairs_built_at, orders, last_purchase_id)
    values (${now}::timestamptz, ${orders}::int, coalesce((select max(id) from purchases), 0))
    on conflict (singleton) do update set pairs_built_at = excluded.pairs_built_at, orders = excluded.orders,
      last_purchase_id = excluded.last_purchase_id`;
  return orders;
}

/**
 * Whether an on-demand refresh should rebuild the pairs first: never built, or purchase lines
 * came in since while the table is small enough (by the planner's estimate) to rebuild in a
 * request. Past that size the recommendations worker keeps them fresh (after imports, nightly).
 */
export async function pairsNeedRebuild(db: Db, maxLines = 200_000): Promise<boolean> {
  const [row] = await db<{ rebuild: boolean }[]>`
    select coalesce(
      (select s.last_purchase_id < coalesce((select max(id) from purchases), 0)
          and (select reltuples from pg_class where oid = 'purchases'::regclass) < ${maxLines}
       from recommendation_state s),
      true) as rebuild`;
  return row!.rebuild;
}

/** Whether a customer's feeds need computing: never computed, or a purchase came in since. */
export async function feedsStale(db: Db, customerId: number): Promise<boolean> {
  const [row] = await db<{ stale: boolean }[]>`
    select coalesce(
      (select r.computed_at < coalesce(
        (select max(created_at) from purchases where customer_id = ${customerId}), '-infinity')
       from recommendation_runs r where r.customer_id = ${customerId}),
      true) as stale`;
  return row!.stale;
}

export interface RecommendationRow {
  feed: Feed;
  rank: number;
  sku: string;
  score: number;
  reason: string;
  title: string;
  description: string | null;
  price: number;
  currency: string;
  category: string | null;
  brand: string | null;
  image_url: string | null;
  url: string | null;
}

/** One reader's ask: a customer's feeds (each to a depth) with titles in a locale. */
export interface FeedAsk {
  customerId: number;
  locale: string;
  feeds: readonly { feed: Feed; limit: number }[];
}

/**
 * Stored feeds of several readers at once (a page of decisions, the mails a sender renders at
 * once), best first, each cut to its limit after a recheck at read: a product out of stock or
 * inactive since the refresh, or bought since (when the feed leaves bought items out), is not
 * shown. One statement for all; the answer holds one list per ask, in order. Two asks of one
 * feed (two blocks, or a block and an offer) read it to the larger limit.
 */
export async function selectFeedsMany(db: Db, asks: readonly FeedAsk[]): Promise<RecommendationRow[][]> {
  const out = asks.map((): RecommendationRow[] => []);
  const w = { ask: [] as number[], feed: [] as string[], lim: [] as number[] };
  asks.forEach((a, i) => {
    const limits = new Map<Feed, number>();
    for (const { feed, limit } of a.feeds) limits.set(feed, Math.max(limit, limits.get(feed) ?? 0));
    for (const [feed, lim] of limits) {
      w.ask.push(i);
      w.feed.push(feed);
      w.lim.push(lim);
    }
  });
  if (w.ask.length === 0) return out;
  // Each (reader, feed) is cut inside a lateral subquery, so only the rows shown are joined and
  // titled: ranking every stored row with a window and cutting afterwards cost a `product_title`
  // call (a SQL function with a sub-select, never inlined) per stored row, and let the planner
  // hash the whole purchases table for the bought check. At send time that was most of what a
  // products block cost a campaign.
  const rows = await db<(RecommendationRow & { ask: number })[]>`
    select q.ask, w.feed, x.rank, x.sku, x.score, x.reason,
      product_title(x.title, q.locale) as title,
      case when x.description is null then null else product_title(x.description, q.locale) end as description,
      x.price, x.currency, x.category, x.brand, x.image_url, x.url
    from unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.customerId)}::bigint[],
        ${asks.map((a) => a.locale)}::text[]) as q(ask, customer_id, locale)
    join unnest(${w.ask}::int[], ${w.feed}::text[], ${w.lim}::int[]) as w(ask, feed, lim) on w.ask = q.ask
    join recommendation_feeds f on f.feed = w.feed
    cross join lateral (
      select r.rank, r.sku, r.score, r.reason, p.title, p.description, p.price, p.currency, p.category,
        p.brand, p.image_url, p.url
      from product_recommendations r
      join products p on p.sku = r.sku and p.active and p.in_stock
      where r.customer_id = q.customer_id and r.feed = w.feed
        and not (f.exclude_bought and exists (
          select 1 from purchases b where b.customer_id = q.customer_id and b.sku = r.sku and b.kind = 'purchase'))
      order by r.rank
      limit w.lim
    ) x
    order by q.ask, w.feed, x.rank`;
  for (const { ask, ...row } of rows) out[ask]!.push(row);
  return out;
}

/** A customer's stored feeds, best first, rechecked at read (see selectFeedsMany). */
export async function selectFeeds(db: Db, ask: FeedAsk): Promise<RecommendationRow[]> {
  const [rows] = await selectFeedsMany(db, [ask]);
  return rows ?? [];
}

/** A customer's stored feed, best first, rechecked at read (see selectFeeds). */
export function selectRecommendations(
  db: Db,
  input: { customerId: number; feed: Feed; limit: number; locale: string },
) {
  return selectFeeds(db, {
    customerId: input.customerId,
    feeds: [{ feed: input.feed, limit: input.limit }],
    locale: input.locale,
  });
}

/** A customer's locale (null when unknown or erased). */
export async function customerLocale(db: Db, id: number): Promise<{ locale: string | null } | undefined> {
  const [row] = await db<{ locale: string | null }[]>`
    select locale from customers where id = ${id} and erased_at is null`;
  return row;
}
