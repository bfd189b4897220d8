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
 */
export async function rebuildPairs(db: Db, now: Date, s: FeedSettings): Promise<number> {
  const since = new Date(now.getTime() - s.window_days * 86_400_000);
  await db`delete from product_pairs`;
  await db`
    create temporary table if not exists recommendation_baskets (ord text, sku text) on commit drop`;
  await db`truncate recommendation_baskets`;
  await db`
    insert into recommendation_baskets
    select distinct customer_id || ':' || coalesce(order_ref, '#' || external_line_id), sku
    from purchases
    where kind = 'purchase' and sku is not null and purchased_at >= ${since}`;
  const [{ orders } = { orders: 0 }] = await db<{ orders: number }[]>`
    select count(distinct ord)::int as orders from recommendation_baskets`;
  await db`
    with counts as (select sku, count(*) as n from recommendation_baskets group by sku),
    pairs as (
      select a.sku, b.sku as other_sku, count(*)::int as support,
        count(*)::float8 * ${orders}::int / (ca.n * cb.n) as lift
      from recommendation_baskets a
      join recommendation_baskets b on b.ord = a.ord and b.sku <> a.sku
      join counts ca on ca.sku = a.sku
      join counts cb on cb.sku = b.sku
      group by a.sku, b.sku, ca.n, cb.n
      having count(*) >= ${s.min_support}::int
    )
    insert into product_pairs (sku, other_sku, support, lift)
    select sku, other_sku, support, lift from (
      select *, row_number() over (partition by sku order by lift desc, support desc, other_sku) as r from pairs
    ) ranked
    -- The strongest companions of each sku are all that a customer's feed can use.
    where r <= ${MAX_PAIRS_PER_SKU}::int`;
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

/** The customers of a scope: given ids, or every customer not erased. */
const inScope = (db: Db, column: string, ids: number[] | null) =>
  ids ? db`${db(column)} = any(${ids})` : db`true`;

/**
 * Recomputes the feeds of the customers in scope (null: everyone) from pairs, purchases and
 * the catalogue, replacing their stored rows. Returns the rows written.
 */
export async function computeFeeds(
  db: Db,
  input: { ids: number[] | null; now: Date; settings: Map<Feed, FeedSettings> },
): Promise<number> {
  const { ids, now, settings } = input;
  const get = (feed: Feed) => settings.get(feed)!;
  const bt = get('bought_together');
  const top = get('top_in_category');
  const rep = get('replenish');
  const fresh = get('new_arrivals');
  const day = 86_400_000;
  await db`delete from product_recommendations where ${inScope(db, 'customer_id', ids)}`;
  // One statement: the customer's history and categories are read once for every feed.
  const written = await db`
    with bought as (
      select p.customer_id, p.sku, max(p.purchased_at) as last_at
      from purchases p
      where p.kind = 'purchase' and p.sku is not null and ${inScope(db, 'p.customer_id', ids)}
      group by p.customer_id, p.sku
    ),
    lines as (
      select p.customer_id, coalesce(p.category, pr.category) as category, p.purchased_at
      from purchases p left join products pr on pr.sku = p.sku
      where p.kind = 'purchase' and ${inScope(db, 'p.customer_id', ids)}
    ),
    -- The customer's top three categories: most lines bought, then preferred categories.
    top_categories as (
      select customer_id, category, weight from (
        select customer_id, category, weight,
          row_number() over (partition by customer_id order by weight desc, category) as r
        from (
          select customer_id, category, count(*)::float8 as weight
          from lines where category is not null group by customer_id, category
          union all
          select c.id, unnest(c.preferred_categories), 0.5
          from customers c where c.erased_at is null and ${inScope(db, 'c.id', ids)}
        ) w
      ) ranked where r <= 3
    ),
    available as (
      select sku, title, category, created_at from products where active and in_stock
    ),
    locales as (
      select c.id as customer_id, coalesce(c.locale, 'en') as locale from customers c
      where c.erased_at is null and ${inScope(db, 'c.id', ids)}
    ),
    together as (
      select b.customer_id, pp.other_sku as sku, max(pp.lift) as score,
        (array_agg(b.sku order by pp.lift desc, b.last_at desc))[1] as because_sku,
        (array_agg(b.last_at order by pp.lift desc, b.last_at desc))[1] as because_at
      from bought b join product_pairs pp on pp.sku = b.sku
      group by b.customer_id, pp.other_sku
    ),
    best_sellers as (
      select coalesce(p.category, pr.category) as category, p.sku, count(distinct p.customer_id)::float8 as buyers
      from purchases p left join products pr on pr.sku = p.sku
      where p.kind = 'purchase' and p.sku is not null and p.purchased_at >= ${new Date(now.getTime() - top.window_days * day)}
      group by 1, 2
    ),
    -- Replenishment: gaps between a customer's successive purchase days in a category.
    visits as (
      select distinct customer_id, category, date_trunc('day', purchased_at) as day
      from lines where category is not null
    ),
    gaps as (
      select customer_id, category,
        extract(epoch from day - lag(day) over (partition by customer_id, category order by day)) / 86400 as gap
      from visits
    ),
    per_customer as (
      select customer_id, category, count(gap) as n, avg(gap) as mean, coalesce(var_samp(gap), 0) as var
      from gaps group by customer_id, category
    ),
    -- Pooled across customers (from every customer's history, not only those in scope):
    -- the category's mean gap, the within-customer variance and the variance between customers'
    -- means; their ratio is how many gaps of prior weight a customer's own mean is shrunk with.
    pooled as (
      select category, sum(n * mean) / nullif(sum(n), 0) as mean,
        sum(var * greatest(n - 1, 0)) / nullif(sum(greatest(n - 1, 0)), 0) as within,
        var_samp(mean) as between_means,
        avg(n) as avg_n
      from (
        select customer_id, category, count(gap) as n, avg(gap) as mean, coalesce(var_samp(gap), 0) as var
        from (
          select customer_id, category,
            extract(epoch from day - lag(day) over (partition by customer_id, category order by day)) / 86400 as gap
          from (
            select distinct p.customer_id, coalesce(p.category, pr.category) as category,
              date_trunc('day', p.purchased_at) as day
            from purchases p left join products pr on pr.sku = p.sku
            where p.kind = 'purchase' and coalesce(p.category, pr.category) is not null
          ) all_visits
        ) all_gaps
        group by customer_id, category
      ) all_customers
      where n > 0
      group by category
    ),
    prior as (
      select category, mean,
        -- k = within / between (empirical Bayes, normal means); few data: a prior worth 2 gaps.
        least(50, greatest(0.5, coalesce(
          within / nullif(greatest(coalesce(between_means, 0) - coalesce(within, 0) / nullif(avg_n, 0), 0), 0),
          2))) as k
      from pooled where mean is not null
    ),
    due as (
      select l.customer_id, l.category, max(l.purchased_at) as last_at,
        (coalesce(pc.n, 0) * coalesce(pc.mean, 0) + pr.k * pr.mean) / (coalesce(pc.n, 0) + pr.k) as interval_days
      from lines l
      join prior pr on pr.category = l.category
      left join per_customer pc on pc.customer_id = l.customer_id and pc.category = l.category
      group by l.customer_id, l.category, pc.n, pc.mean, pr.k, pr.mean
    ),
    candidates as (
      select t.customer_id, 'bought_together' as feed, t.sku, t.score,
        'often bought with the ' || product_title(bp.title, lo.locale) || ' you bought on ' ||
          to_char(t.because_at, 'FMDD Mon YYYY') as reason,
        ${bt.exclude_bought}::boolean as exclude_bought, ${bt.size}::int as size
      from together t join locales lo using (customer_id) left join products bp on bp.sku = t.because_sku
      union all
      select tc.customer_id, 'top_in_category', bs.sku, tc.weight * 1000 + bs.buyers,
        'a best seller in ' || tc.category, ${top.exclude_bought}::boolean, ${top.size}::int
      from top_categories tc join best_sellers bs on bs.category = tc.category
      union all
      select d.customer_id, 'replenish', b.sku,
        extract(epoch from ${now}::timestamptz - d.last_at) / 86400 / d.interval_days,
        'you buy ' || d.category || ' about every ' || round(d.interval_days)::text || ' days; last on ' ||
          to_char(d.last_at, 'FMDD Mon YYYY'),
        ${rep.exclude_bought}::boolean, ${rep.size}::int
      from due d
      join bought b on b.customer_id = d.customer_id
      join products bp on bp.sku = b.sku and bp.category = d.category
      where d.last_at + make_interval(secs => (d.interval_days * 86400)::float8) <= ${new Date(now.getTime() + rep.window_days * day)}
      union all
      select tc.customer_id, 'new_arrivals', a.sku, extract(epoch from a.created_at),
        'new in ' || tc.category, ${fresh.exclude_bought}::boolean, ${fresh.size}::int
      from top_categories tc join available a on a.category = tc.category
      where a.created_at >= ${new Date(now.getTime() - fresh.window_days * day)}
    ),
    kept as (
      select c.*, row_number() over (partition by c.customer_id, c.feed order by c.score desc, c.sku) as rank
      from candidates c
      join available a on a.sku = c.sku
      join locales lo on lo.customer_id = c.customer_id
      -- A hash anti-join on what was bought: a probe per candidate made the refresh slow.
      left join bought b on b.customer_id = c.customer_id and b.sku = c.sku
      where b.sku is null or not c.exclude_bought
    )
    insert into product_recommendations (customer_id, feed, rank, sku, score, reason, computed_at)
    select customer_id, feed, rank, sku, score, reason, ${now}::timestamptz from kept where rank <= size`;
  await db`
    insert into recommendation_runs (customer_id, computed_at)
    select c.id, ${now}::timestamptz from customers c where c.erased_at is null and ${inScope(db, 'c.id', ids)}
    on conflict (customer_id) do update set computed_at = excluded.computed_at`;
  return written.count;
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

/**
 * A customer's stored feed, best first, rechecked at read: a product out of stock or inactive
 * since the refresh, or bought since (when the feed leaves bought items out), is not shown.
 */
export function selectRecommendations(
  db: Db,
  input: { customerId: number; feed: Feed; limit: number; locale: string },
) {
  return db<RecommendationRow[]>`
    select r.feed, r.rank, r.sku, r.score, r.reason,
      product_title(p.title, ${input.locale}) as title,
      case when p.description is null then null else product_title(p.description, ${input.locale}) end as description,
      p.price, p.currency, p.category, p.brand, p.image_url, p.url
    from product_recommendations r
    join products p on p.sku = r.sku and p.active and p.in_stock
    join recommendation_feeds f on f.feed = r.feed
    where r.customer_id = ${input.customerId} and r.feed = ${input.feed}
      and not (f.exclude_bought and exists (
        select 1 from purchases b where b.customer_id = r.customer_id and b.sku = r.sku and b.kind = 'purchase'))
    order by r.rank
    limit ${input.limit}`;
}

/** A customer's locale (null when unknown or erased). */
export async function customerLocale(db: Db, id: number): Promise<{ locale: string | null } | undefined> {
  const [row] = await db<{ locale: string | null }[]>`
    select locale from customers where id = ${id} and erased_at is null`;
  return row;
}
