import type { Db, Fragment } from '../db/sql.js';
import type { Feed, FeedSettings } from './recommend-store.js';

// Per-customer feeds computed in PostgreSQL from pairs, purchases and the catalogue.
//
// Why in chunks of customers: one statement over every customer ranked all candidate rows of
// all customers in one sort (8 million rows at 60,000 customers), which spilled to disk in
// passes and grew faster than the data (10× the customers cost 17×). The work is per customer
// anyway, so it runs over ranges of customers whose sorts stay in memory, each range the same
// cost: the whole refresh grows with the number of customers. What every range shares (the
// catalogue's available products, best sellers, new arrivals, titles, the replenishment
// priors) is computed once into temporary tables, which are ANALYZEd so that each range's plan
// sees their true size. The purchase lines are copied once, ordered by customer, so that a
// range reads its own few pages instead of every page of `purchases` again.

/** Customers per range of a full refresh: small enough that every sort of a range fits in work_mem. */
export const CUSTOMERS_PER_CHUNK = 1000;

/** Which customers a statement covers: these ids, or a range of ids (bounds null when open). */
type Chunk = { ids: number[] } | { from: number | null; to: number | null };

const inChunk = (db: Db, column: string, chunk: Chunk): Fragment => {
  if ('ids' in chunk) return db`${db(column)} = any(${chunk.ids})`;
  const lower = chunk.from === null ? db`true` : db`${db(column)} >= ${chunk.from}`;
  const upper = chunk.to === null ? db`true` : db`${db(column)} < ${chunk.to}`;
  return db`${lower} and ${upper}`;
};

/** Purchase lines as the feeds read them: the sku, and the line's category else the product's. */
const purchaseLines = (db: Db, where: Fragment) => db`
  select p.customer_id, p.sku, coalesce(p.category, pr.category) collate "C" as category, p.purchased_at
  from purchases p left join products pr on pr.sku = p.sku
  where p.kind = 'purchase' and ${where}`;

/**
 * Per customer and category: lines bought, the last purchase, and the gaps in days between
 * successive purchase days (how many, their mean and variance), from one sort of the days.
 * `lines` yields purchaseLines' columns.
 */
const categoryStats = (db: Db, lines: Fragment) => db`
  select customer_id, category, sum(lines)::float8 as lines, max(last_at) as last_at,
    count(gap)::float8 as n, avg(gap) as mean, coalesce(var_samp(gap), 0) as var
  from (
    select customer_id, category, lines, last_at,
      extract(epoch from day - lag(day) over (partition by customer_id, category order by day))::float8 / 86400 as gap
    from (
      select customer_id, category, date_trunc('day', purchased_at) as day, max(purchased_at) as last_at,
        count(*) as lines
      from ${lines} l where category is not null
      group by 1, 2, 3
    ) v
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

/** The lower bound of each range of `size` customers (in id order), the first one open. */
async function chunkBounds(db: Db, size: number): Promise<Chunk[]> {
  const rows = await db<{ id: number }[]>`
    select id from (
      select id, row_number() over (order by id) as n from customers where erased_at is null
    ) c
    where n % ${size}::int = 1 and n > 1
    order by id`;
  const bounds = [null, ...rows.map((r) => r.id)];
  return bounds.map((from, i) => ({ from, to: bounds[i + 1] ?? null }));
}

/**
 * The tables every range of customers reads, built once per refresh (dropped at commit):
 * rec_lines (the scope's purchase lines, by customer), rec_available, rec_best (best sellers
 * per category, ranked), rec_arrivals (new products per category, ranked), rec_titles (titles
 * a reason may name, per locale in scope).
 */
async function buildShared(
  db: Db,
  input: { scope: Fragment; linesWhere: Fragment; now: Date; top: FeedSettings; fresh: FeedSettings },
): Promise<void> {
  const day = 86_400_000;
  await db`
    create temp table rec_lines on commit drop as
    select * from (${purchaseLines(db, input.linesWhere)}) l order by customer_id`;
  await db`create index on rec_lines (customer_id)`;
  await db`
    create temp table rec_available on commit drop as
    select sku, title, category collate "C" as category, created_at from products where active and in_stock`;
  // Best sellers: distinct buyers in the window, ranked within their category.
  await db`
    create temp table rec_best on commit drop as
    select a.category, s.sku, s.buyers,
      row_number() over (partition by a.category order by s.buyers desc, s.sku) as r
    from (
      select sku, count(*)::float8 as buyers from (
        select distinct customer_id, sku from purchases
        where kind = 'purchase' and sku is not null
          and purchased_at >= ${new Date(input.now.getTime() - input.top.window_days * day)}
      ) d
      group by sku
    ) s
    join rec_available a using (sku)`;
  await db`
    create temp table rec_arrivals on commit drop as
    select category, sku, created_at,
      row_number() over (partition by category order by created_at desc, sku) as r
    from rec_available where created_at >= ${new Date(input.now.getTime() - input.fresh.window_days * day)}`;
  // Titles once per (sku, language in scope), not once per row.
  await db`
    create temp table rec_titles on commit drop as
    select p.sku, l.locale, product_title(p.title, l.locale) as title
    from products p cross join (select distinct coalesce(c.locale, 'en') as locale from customers c where ${input.scope}) l
    where p.sku in (select sku from product_pairs)`;
  await db`
    create temp table rec_stats (
      customer_id bigint, category text collate "C", lines float8, last_at timestamptz, n float8, mean float8,
      var float8
    ) on commit drop`;
  await db`create temp table rec_prior (category text collate "C", mean float8, k float8) on commit drop`;
}

/** Planner statistics for the temporary tables (autovacuum never analyzes them). */
async function analyzeShared(db: Db): Promise<void> {
  await db`analyze rec_lines, rec_available, rec_best, rec_arrivals, rec_titles, rec_stats, rec_prior`;
}

/** Stores the feeds of one chunk of customers from the shared tables; returns their items. */
async function computeChunk(
  db: Db,
  input: { chunk: Chunk; now: Date; settings: Map<Feed, FeedSettings> },
): Promise<number> {
  const { chunk, now, settings } = input;
  const get = (feed: Feed) => settings.get(feed)!;
  const bt = get('bought_together');
  const top = get('top_in_category');
  const rep = get('replenish');
  const fresh = get('new_arrivals');
  const day = 86_400_000;
  const [written] = await db<{ rows: number }[]>`
    with scope as (
      select c.id as customer_id, coalesce(c.locale, 'en') as locale from customers c
      where c.erased_at is null and ${inChunk(db, 'c.id', chunk)}
    ),
    feed_params (feed, exclude_bought, size) as (
      values ('bought_together', ${bt.exclude_bought}::boolean, ${bt.size}::int),
        ('top_in_category', ${top.exclude_bought}::boolean, ${top.size}::int),
        ('replenish', ${rep.exclude_bought}::boolean, ${rep.size}::int),
        ('new_arrivals', ${fresh.exclude_bought}::boolean, ${fresh.size}::int)
    ),
    bought as materialized (
      select customer_id, sku, max(purchased_at) as last_at
      from rec_lines
      where sku is not null and ${inChunk(db, 'customer_id', chunk)}
      group by customer_id, sku
    ),
    -- Bought skus per category of the catalogue: all that the exclusions can remove from the
    -- category's best sellers or new arrivals.
    bought_counts as (
      select b.customer_id, a.category, count(*)::int as skus
      from bought b join rec_available a on a.sku = b.sku
      group by b.customer_id, a.category
    ),
    stats as materialized (select * from rec_stats where ${inChunk(db, 'customer_id', chunk)}),
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
            from customers c where c.erased_at is null and ${inChunk(db, 'c.id', chunk)}
          ) w
          group by customer_id, category
        ) summed
      ) ranked where r <= 3
    ),
    -- Each companion once per customer, through the strongest pair (then the latest purchase).
    -- Each feed's candidates are filtered where they are made (in stock, not bought when the
    -- feed says so), so that only rows that can be shown reach the sorts.
    together as (
      select distinct on (b.customer_id, pp.other_sku collate "C")
        b.customer_id, pp.other_sku as sku, pp.lift as score, b.sku as because_sku, b.last_at as because_at
      from bought b
      join product_pairs pp on pp.sku = b.sku
      join rec_available a on a.sku = pp.other_sku
      left join bought x on x.customer_id = b.customer_id and x.sku = pp.other_sku
      where x.sku is null or not ${bt.exclude_bought}::boolean
      order by b.customer_id, pp.other_sku collate "C", pp.lift desc, b.last_at desc
    ),
    -- Replenishment: (n·mean + k·prior mean) / (n + k) days, due now or within the window.
    due as (
      select s.customer_id, s.category, s.last_at,
        (s.n * coalesce(s.mean, 0) + pr.k * pr.mean) / (s.n + pr.k) as interval_days
      from stats s join rec_prior pr on pr.category = s.category
    ),
    candidates as (
      select t.customer_id, 'bought_together' as feed, t.sku, t.score, t.because_sku, t.because_at,
        s.locale, null::text as category, null::float8 as interval_days
      from together t
      join scope s on s.customer_id = t.customer_id
      union all
      select tc.customer_id, 'top_in_category', bs.sku, tc.weight * 1000 + bs.buyers, null, null, null,
        tc.category, null
      from top_categories tc
      join rec_best bs on bs.category = tc.category
      left join bought_counts bc on bc.customer_id = tc.customer_id and bc.category = tc.category
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
      join rec_available bp on bp.sku = b.sku and bp.category = d.category
      -- What it proposes is bought by definition: a feed set to leave that out stays empty.
      where not ${rep.exclude_bought}::boolean
        and d.last_at + make_interval(secs => d.interval_days * 86400) <= ${new Date(now.getTime() + rep.window_days * day)}
      union all
      select tc.customer_id, 'new_arrivals', a.sku, extract(epoch from a.created_at)::float8, null, null, null,
        tc.category, null
      from top_categories tc
      join rec_arrivals a on a.category = tc.category
      left join bought_counts bc on bc.customer_id = tc.customer_id and bc.category = tc.category
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
    lists as materialized (
    select customer_id, feed, array_agg(sku order by rank) as skus, array_agg(score order by rank) as scores,
      array_agg(reason order by rank) as reasons
    from (
      select k.customer_id, k.feed collate "C" as feed, k.rank, k.sku, k.score,
        case k.feed
          when 'bought_together' then
            'often bought with the ' || coalesce(ti.title, k.because_sku) || ' you bought on ' ||
              to_char(k.because_at, 'FMDD Mon YYYY')
          when 'top_in_category' then 'a best seller in ' || k.category
          when 'replenish' then
            'you buy ' || k.category || ' about every ' || round(k.interval_days)::text || ' days; last on ' ||
              to_char(k.because_at, 'FMDD Mon YYYY')
          else 'new in ' || k.category
        end as reason
      from kept k
      -- The title a reason names, joined to the kept rows only (the sort carries no titles).
      left join rec_titles ti on ti.sku = k.because_sku and ti.locale = k.locale
      where k.rank <= k.size
    ) items
    group by customer_id, feed
    ),
    -- Only lists that changed are written: a nightly refresh over unchanged purchases would
    -- otherwise rewrite every row, its TOASTed arrays and its GIN entries, and leave as many
    -- dead rows behind. A list's computed_at is when it last changed; when the customer's
    -- feeds were last computed is recommendation_runs'.
    saved as (
      insert into recommendation_lists as l (customer_id, feed, skus, scores, reasons, computed_at)
      select customer_id, feed, skus, scores, reasons, ${now}::timestamptz from lists
      on conflict (customer_id, feed) do update
        set skus = excluded.skus, scores = excluded.scores, reasons = excluded.reasons,
          computed_at = excluded.computed_at
        where (l.skus, l.scores, l.reasons) is distinct from (excluded.skus, excluded.scores, excluded.reasons)
    ),
    -- A feed of the range that came out empty this time.
    dropped as (
      delete from recommendation_lists l
      where ${inChunk(db, 'l.customer_id', chunk)}
        and not exists (select 1 from lists n where n.customer_id = l.customer_id and n.feed = l.feed)
    )
    select coalesce(sum(cardinality(skus)), 0)::int as rows from lists`;
  return written?.rows ?? 0;
}

/**
 * Recomputes the feeds of the customers in scope (null: everyone) from pairs, purchases and
 * the catalogue, replacing their stored lists (only those that changed). Returns the items of
 * their feeds. Runs inside the caller's transaction (its temporary tables are dropped at commit).
 *
 * Each feed's candidates are cut to what can still reach the feed before they are ranked (a
 * category's best sellers and new arrivals to the feed's size plus the customer's bought skus,
 * which are all the exclusions can remove), a sku's companions are deduplicated by one sort,
 * and reasons (product titles in the customer's language) are built for the kept rows only. A
 * full refresh stores the replenishment priors it pooled; a refresh of a few customers reuses
 * them instead of reading every purchase.
 */
export async function computeFeeds(
  db: Db,
  input: { ids: number[] | null; now: Date; settings: Map<Feed, FeedSettings>; chunkSize?: number },
): Promise<number> {
  const { ids, now, settings } = input;
  const full = ids === null;
  const chunks: Chunk[] = full ? await chunkBounds(db, input.chunkSize ?? CUSTOMERS_PER_CHUNK) : [{ ids }];
  const scope = full ? db`c.erased_at is null` : db`c.erased_at is null and c.id = any(${ids})`;
  await buildShared(db, {
    scope,
    linesWhere: full ? db`true` : db`p.customer_id = any(${ids})`,
    now,
    top: settings.get('top_in_category')!,
    fresh: settings.get('new_arrivals')!,
  });
  // Per-customer stats first, range by range: a full refresh pools the priors over all of them.
  for (const chunk of chunks) {
    await db`
      insert into rec_stats
      ${categoryStats(db, db`(select * from rec_lines where ${inChunk(db, 'customer_id', chunk)})`)}`;
  }
  // Each range reads its own stats: without an index that would be a scan of all per range.
  await db`create index on rec_stats (customer_id)`;
  if (full) {
    await db`delete from recommendation_priors`;
    await db`insert into rec_prior ${priorsFrom(db, db`rec_stats`)}`;
    await db`
      insert into recommendation_priors (category, mean_days, k, computed_at)
      select category, mean, k, ${now}::timestamptz from rec_prior`;
  } else {
    const [stored] = await db<{ n: number }[]>`
      insert into rec_prior select category, mean_days, k from recommendation_priors
      returning 1 as n`;
    // Never refreshed in full yet: pool over everyone now.
    if (!stored) {
      await db`
        insert into rec_prior
        ${priorsFrom(db, db`(${categoryStats(db, db`(${purchaseLines(db, db`true`)})`)})`)}`;
    }
  }
  await analyzeShared(db);
  let rows = 0;
  for (const chunk of chunks) rows += await computeChunk(db, { chunk, now, settings });
  await db`
    insert into recommendation_runs (customer_id, computed_at)
    select c.id, ${now}::timestamptz from customers c where ${scope}
    on conflict (customer_id) do update set computed_at = excluded.computed_at`;
  return rows;
}
