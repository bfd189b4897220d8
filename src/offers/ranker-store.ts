import type { Db, Sql } from '../db/sql.js';
import { ALL_CELLS, type ArmStats, type LearnedStats } from './learner.js';

// The learning ranker's SQL: its posterior statistics (ranker_stats), their recomputation from
// impressions and conversions, and resets.

interface StatsRow extends ArmStats {
  offer_id: number;
  cell: string;
}

// Every offer's learned statistics, overall (`*`) and per cell.
export async function loadLearnedStats(db: Db): Promise<LearnedStats> {
  const rows = await db<StatsRow[]>`
    select offer_id, cell, impressions, conversions, revenue, revenue_sq from ranker_stats`;
  const stats = new Map<number, Map<string, ArmStats>>();
  for (const r of rows) {
    const arms = stats.get(r.offer_id) ?? new Map<string, ArmStats>();
    arms.set(r.cell, {
      impressions: r.impressions,
      conversions: r.conversions,
      revenue: r.revenue,
      revenue_sq: r.revenue_sq,
    });
    stats.set(r.offer_id, arms);
  }
  return stats;
}

// One offer's learned statistics, overall first then by cell (the ranker API).
export function learnedStatsRows(db: Db, offerId?: number): Promise<StatsRow[]> {
  return db<StatsRow[]>`
    select offer_id, cell, impressions, conversions, revenue, revenue_sq from ranker_stats
    where ${offerId === undefined ? db`true` : db`offer_id = ${offerId}`}
    order by offer_id, cell <> ${ALL_CELLS}, cell`;
}

/**
 * Recomputes every offer's statistics from the impressions since its reset: an impression
 * converted when a conversion was attributed to its message and offer (revenue converted to the
 * report currency). A recomputation, not an increment: a conversion moved to a later touch or
 * refunded, or an impression committed late, is counted right on the next run. One run at a time
 * (an advisory lock; a concurrent run returns null). Returns the impressions counted.
 */
export async function recomputeLearnedStats(sql: Sql, currency: string, now: Date): Promise<number | null> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`
      select pg_try_advisory_xact_lock(hashtext('offerflow:ranker_stats')) as ok`;
    if (!lock?.ok) return null;
    await tx`delete from ranker_stats`;
    const [row] = await tx<{ n: number }[]>`
      with state as (select reset_at from ranker_state where id),
      imp as (
        select i.offer_id, i.message_id, m.ranker_cell
        from offer_impressions i
        join offers o on o.id = i.offer_id
        left join messages m on m.id = i.message_id
        where i.message_id is not null
          and i.at >= greatest((select reset_at from state), coalesce(o.ranker_reset_at, '-infinity'))
      ),
      conv as (
        select e.message_id, e.offer_id,
          coalesce(sum(report_amount((e.data ->> 'revenue')::numeric, e.data ->> 'currency', ${currency}::text)), 0)::float8 as revenue
        from contact_events e
        where e.kind = 'converted' and e.offer_id is not null and e.message_id is not null
          and e.message_id in (select message_id from imp)
        group by 1, 2
      ),
      outcome as (
        select imp.offer_id, imp.ranker_cell, c.message_id is not null as converted, coalesce(c.revenue, 0) as revenue
        from imp left join conv c on c.message_id = imp.message_id and c.offer_id = imp.offer_id
      ),
      agg as (
        select offer_id, coalesce(ranker_cell, ${ALL_CELLS}) as cell, grouping(ranker_cell) as overall,
          count(*)::int as impressions, count(*) filter (where converted)::int as conversions,
          sum(revenue)::float8 as revenue, sum(revenue * revenue)::float8 as revenue_sq
        from outcome group by grouping sets ((offer_id), (offer_id, ranker_cell))
      ),
      ins as (
        insert into ranker_stats (offer_id, cell, impressions, conversions, revenue, revenue_sq)
        select offer_id, case when overall = 1 then ${ALL_CELLS} else cell end, impressions, conversions, revenue, revenue_sq
        from agg where overall = 1 or cell <> ${ALL_CELLS}
        returning impressions, cell
      )
      select coalesce(sum(impressions) filter (where cell = ${ALL_CELLS}), 0)::int as n from ins`;
    await tx`update ranker_state set refreshed_at = ${now} where id`;
    return row?.n ?? 0;
  });
}

// Forgets what was learned: of one offer, or of all; later impressions teach it again.
export async function resetLearned(db: Db, now: Date, offerId?: number): Promise<void> {
  if (offerId === undefined) {
    await db`update ranker_state set reset_at = ${now} where id`;
    await db`delete from ranker_stats`;
  } else {
    await db`update offers set ranker_reset_at = ${now} where id = ${offerId}`;
    await db`delete from ranker_stats where offer_id = ${offerId}`;
  }
}

// When the statistics were last recomputed (null: never).
export async function learnedStatsRefreshedAt(db: Db): Promise<Date | null> {
  const [row] = await db<{ refreshed_at: Date | null }[]>`select refreshed_at from ranker_state where id`;
  return row?.refreshed_at ?? null;
}

// Changes whenever ranker_stats may have: a recomputation, a reset of all offers or of one.
export async function learnedStatsVersion(db: Db): Promise<string> {
  const [row] = await db<{ v: string }[]>`
    select concat_ws('|', s.refreshed_at, s.reset_at, (select max(ranker_reset_at) from offers)) as v
    from ranker_state s where s.id`;
  return row?.v ?? '';
}
