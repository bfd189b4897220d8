import type { Db, Fragment } from '../db/sql.js';

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

/** The customers of a scope: given ids, or every customer not erased. */
const inScope = (db: Db, column: string, ids: number[] | null) =>
  ids ? db`${db(column)} = any(${ids})` : db`true`;

/**
 * A customer's purchase days per category (the line's category, else the product's): the last
 * purchase of the day and the lines bought. Scoped to `ids`, or everyone (null).
 */
const visits = (db: Db, ids: number[] | null) => db`
  select p.customer_id, coalesce(p.category, pr.category) collate "C" as category,
    date_trunc('day', p.purchased_at) as day, max(p.purchased_at) as last_at, count(*) as lines
  from purchases p left join products pr on pr.sku = p.sku
  where p.kind = 'purchase' and coalesce(p.category, pr.category) is not null
    and ${inScope(db, 'p.customer_id', ids)}
  group by 1, 2, 3`;

/**
 * Per customer and category: lines bought, the last purchase, and the gaps in days between
 * successive purchase days (how many, their mean and variance), from one sort of the visits.
 */
const categoryStats = (db: Db, ids: number[] | null) => db`
  select customer_id, category, sum(lines)::float8 as lines, max(last_at) as last_at,
    count(gap)::float8 as n, avg(gap) as mean, coalesce(var_samp(gap), 0) as var
  from (
    select customer_id, category, lines, last_at,
      extract(epoch from day - lag(day) over (partition by customer_id, category order by day))::float8 / 86400 as gap
    from (${visits(db, ids)}) v
  ) g
  group by customer_id, category`;

/**
 * The replenishment prior of each category from per-customer stats over every customer: the
 * mean gap pooled, and k = within-customer variance / variance between customers' means
 * (empirical Bayes for normal means), the weight in gaps a customer's own mean is shrunk with;
 * few data: a prior worth 2 gaps.
 */
const priorsFrom = (db: Db, stats: Fragment) => db`
  select category, mean,
    least(50, greatest(0.5, coalesce(
      within / nullif(greatest(coalesce(between_means, 0) - coalesce(within, 0) / nullif(avg_n, 0), 0), 0),
      2))) as k
  from (
    select category, sum(n * mean) / nullif(sum(n), 0) as mean,
      sum(var * greatest(n - 1, 0)) / nullif(sum(greatest(n - 1, 0)), 0) as within,
      var_samp(mean) as between_means, avg(n) as avg_n
    from ${stats} s where n > 0 group by category
  ) pooled
  where mean is not null`;

/**
 * Recomputes the feeds of the customers in scope (null: everyone) from pairs, purchases and
 * the catalogue, replacing their stored rows. Returns the rows written.
 *
 * Set-based, one statement: each feed's candidates are cut to what can still reach the feed
 * before they are ranked (a category's best sellers and new arrivals to the feed's size plus
 * the customer's bought skus, which are all the exclusions can remove), a sku's companions are
 * deduplicated by one sort, and reasons (product titles in the customer's language) are built
 * for the kept rows only, one title per (sku, locale). A full refresh stores the replenishment
 * priors it pooled; a refresh of a few customers reuses them instead of reading every purchase.
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
  const full = ids === null;
  await db`delete from recommendation_lists where ${inScope(db, 'customer_id', ids)}`;
  if (full) await db`delete from recommendation_priors`;
  const prior = full
    ? db`${priorsFrom(db, db`stats`)}`
    : db`
      select category, mean_days as mean, k from recommendation_priors
      union all
      -- Never refreshed in full yet: pool over everyone now.
      select category, mean, k from (${priorsFrom(db, db`(${categoryStats(db, null)})`)}) computed
      where not exists (select 1 from recommendation_priors)`;
  const savePriors = full
    ? db`saved_priors as (
        insert into recommendation_priors (category, mean_days, k, computed_at)
        select category, mean, k, ${now}::timestamptz from prior
      ),`
    : db``;
  const [written] = await db<{ rows: number }[]>`
    with scope as (
      select c.id as customer_id, coalesce(c.locale, 'en') as locale from customers c
      where c.erased_at is null and ${inScope(db, 'c.id', ids)}
    ),
    feed_params (feed, exclude_bought, size) as (
      values ('bought_together', ${bt.exclude_bought}::boolean, ${bt.size}::int),
        ('top_in_category', ${top.exclude_bought}::boolean, ${top.size}::int),
        ('replenish', ${rep.exclude_bought}::boolean, ${rep.size}::int),
        ('new_arrivals', ${fresh.exclude_bought}::boolean, ${fresh.size}::int)
    ),
    bought as materialized (
      select p.customer_id, p.sku, max(p.purchased_at) as last_at
      from purchases p
      where p.kind = 'purchase' and p.sku is not null and ${inScope(db, 'p.customer_id', ids)}
      group by p.customer_id, p.sku
    ),
    bought_counts as (select customer_id, count(*)::int as skus from bought group by customer_id),
    stats as materialized (${categoryStats(db, ids)}),
    prior as materialized (${prior}),
    ${savePriors}
    available as (
      select sku, title, category collate "C" as category, created_at from products where active and in_stock
    ),
    -- The customer's top three categories: most lines bought, then preferred categories.
    top_categories as materialized (
      select customer_id, category, weight from (
        select customer_id, category, weight,
          row_number() over (partition by customer_id order by weight desc, category) as r
        from (
          select customer_id, category, sum(weight) as weight from (
            select customer_id, category, lines as weight from stats
            union all
            select c.id, unnest(c.preferred_categories) collate "C", 0.5::float8
            from customers c where c.erased_at is null and ${inScope(db, 'c.id', ids)}
          ) w
          group by customer_id, category
        ) summed
      ) ranked where r <= 3
    ),
    -- Best sellers (distinct buyers in the window) and new arrivals, ranked within their category.
    best_sellers as (
      select a.category, s.sku, s.buyers,
        row_number() over (partition by a.category order by s.buyers desc, s.sku) as r
      from (
        select sku, count(*)::float8 as buyers from (
          select distinct customer_id, sku from purchases
          where kind = 'purchase' and sku is not null
            and purchased_at >= ${new Date(now.getTime() - top.window_days * day)}
        ) d
        group by sku
      ) s
      join available a using (sku)
    ),
    arrivals as (
      select category, sku, created_at,
        row_number() over (partition by category order by created_at desc, sku) as r
      from available where created_at >= ${new Date(now.getTime() - fresh.window_days * day)}
    ),
    -- Titles of the skus a reason may name, once per language in scope (not once per row).
    titles as (
      select p.sku, l.locale, product_title(p.title, l.locale) as title
      from products p cross join (select distinct locale from scope) l
      where p.sku in (select sku from product_pairs)
    ),
    -- Each companion once per customer, through the strongest pair (then the latest purchase).
    -- Each feed's candidates are filtered where they are made (in stock, not bought when the
    -- feed says so), so that only rows that can be shown reach the sorts.
    together as (
      select distinct on (b.customer_id, pp.other_sku collate "C")
        b.customer_id, pp.other_sku as sku, pp.lift as score, b.sku as because_sku, b.last_at as because_at
      from bought b
      join product_pairs pp on pp.sku = b.sku
      join available a on a.sku = pp.other_sku
      left join bought x on x.customer_id = b.customer_id and x.sku = pp.other_sku
      where x.sku is null or not ${bt.exclude_bought}::boolean
      order by b.customer_id, pp.other_sku collate "C", pp.lift desc, b.last_at desc
    ),
    -- Replenishment: (n·mean + k·prior mean) / (n + k) days, due now or within the window.
    due as (
      select s.customer_id, s.category, s.last_at,
        (s.n * coalesce(s.mean, 0) + pr.k * pr.mean) / (s.n + pr.k) as interval_days
      from stats s join prior pr on pr.category = s.category
    ),
    candidates as (
      select t.customer_id, 'bought_together' as feed, t.sku, t.score, t.because_sku, t.because_at,
        ti.title as because_title, null::text as category, null::float8 as interval_days
      from together t
      join scope s on s.customer_id = t.customer_id
      left join titles ti on ti.sku = t.because_sku and ti.locale = s.locale
      union all
      select tc.customer_id, 'top_in_category', bs.sku, tc.weight * 1000 + bs.buyers, null, null, null,
        tc.category, null
      from top_categories tc
      join best_sellers bs on bs.category = tc.category
      left join bought_counts bc on bc.customer_id = tc.customer_id
      left join bought x on x.customer_id = tc.customer_id and x.sku = bs.sku
      -- Only what can still reach the feed: its size, plus as many as the customer's bought
      -- skus may remove.
      where bs.r <= ${top.size}::int + case when ${top.exclude_bought}::boolean then coalesce(bc.skus, 0) else 0 end
        and (x.sku is null or not ${top.exclude_bought}::boolean)
      union all
      select d.customer_id, 'replenish', b.sku,
        extract(epoch from ${now}::timestamptz - d.last_at)::float8 / 86400 / d.interval_days,
        null, d.last_at, null, d.category, d.interval_days
      from due d
      join bought b on b.customer_id = d.customer_id
      join available bp on bp.sku = b.sku and bp.category = d.category
      -- What it proposes is bought by definition: a feed set to leave that out stays empty.
      where not ${rep.exclude_bought}::boolean
        and d.last_at + make_interval(secs => d.interval_days * 86400) <= ${new Date(now.getTime() + rep.window_days * day)}
      union all
      select tc.customer_id, 'new_arrivals', a.sku, extract(epoch from a.created_at)::float8, null, null, null,
        tc.category, null
      from top_categories tc
      join arrivals a on a.category = tc.category
      left join bought_counts bc on bc.customer_id = tc.customer_id
      left join bought x on x.customer_id = tc.customer_id and x.sku = a.sku
      where a.r <= ${fresh.size}::int + case when ${fresh.exclude_bought}::boolean then coalesce(bc.skus, 0) else 0 end
        and (x.sku is null or not ${fresh.exclude_bought}::boolean)
    ),
    kept as (
      select c.*, f.size,
        row_number() over (partition by c.customer_id, c.feed collate "C" order by c.score desc, c.sku collate "C") as rank
      from candidates c
      join feed_params f on f.feed = c.feed
    ),
    saved as (
    insert into recommendation_lists (customer_id, feed, skus, scores, reasons, computed_at)
    select customer_id, feed, array_agg(sku order by rank), array_agg(score order by rank),
      array_agg(reason order by rank), ${now}::timestamptz
    from (
      select k.customer_id, k.feed collate "C" as feed, k.rank, k.sku, k.score,
        case k.feed
          when 'bought_together' then
            'often bought with the ' || coalesce(k.because_title, k.because_sku) || ' you bought on ' ||
              to_char(k.because_at, 'FMDD Mon YYYY')
          when 'top_in_category' then 'a best seller in ' || k.category
          when 'replenish' then
            'you buy ' || k.category || ' about every ' || round(k.interval_days)::text || ' days; last on ' ||
              to_char(k.because_at, 'FMDD Mon YYYY')
          else 'new in ' || k.category
        end as reason
      from kept k where k.rank <= k.size
    ) items
    group by customer_id, feed
    returning cardinality(skus) as n
    )
    select coalesce(sum(n), 0)::int as rows from saved`;
  await db`
    insert into recommendation_runs (customer_id, computed_at)
    select c.id, ${now}::timestamptz from customers c where c.erased_at is null and ${inScope(db, 'c.id', ids)}
    on conflict (customer_id) do update set computed_at = excluded.computed_at`;
  return written?.rows ?? 0;
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
