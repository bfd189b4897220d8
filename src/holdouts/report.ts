import type { Db, Fragment } from '../db/sql.js';
import { type GroupSample, type IncrementalResult, incrementalLift } from './lift.js';

// The incremental section of a report: the scope's treated customers against its held-out ones,
// each followed for the same window from when the mailing was planned (or, for an offer, sent),
// whatever they clicked. Purchases count by the customer, not by attribution.

/** What an incremental report is about. */
export type IncrementalScope = { campaign_id: number } | { trigger_id: number } | { offer_id: number };

export interface IncrementalReport extends IncrementalResult {
  /** Days each customer is followed from their planning (campaign, trigger) or sending (offer). */
  window_days: number;
  /** What the revenue figures are in (REPORT_CURRENCY); purchases no rate converts are left out. */
  currency: string;
  /** Held-out customers by reason: `holdout` (the scope's own), `control_group` (the global one). */
  holdout_reasons: Record<string, number>;
}

/**
 * Customers with revenue per group above which the bootstrap's budget (bootstrap.ts) would leave
 * too few replicates: their revenues are not read, and the normal interval applies.
 */
const MAX_BOOTSTRAP_REVENUES = 4000;

interface SampleRow extends GroupSample {
  held: boolean;
  reason: string | null;
}

/**
 * Each customer of the scope once, as (customer_id, held, reason, at): held when none of their
 * rows was mailed. Campaign and trigger rows count from planning; suppressed and cancelled rows
 * were never candidates. An offer's held-out customers are those sent another offer in its place
 * (from the first time; shown it before its holdout began or not: membership is by their hash),
 * its treated ones those shown it.
 */
function members(sql: Db, scope: IncrementalScope): Fragment {
  if ('offer_id' in scope) {
    return sql`
      select customer_id, bool_or(held) as held, 'holdout' as reason,
        coalesce(min(at) filter (where held), min(at)) as at from (
        select i.customer_id, false as held, i.at from offer_impressions i where i.offer_id = ${scope.offer_id}
        union all
        select m.customer_id, true, m.sent_at from messages m
        where m.held_out_offer_ids @> array[${scope.offer_id}]::bigint[] and m.status = 'sent'
      ) s group by customer_id`;
  }
  const where =
    'campaign_id' in scope
      ? sql`m.campaign_id = ${scope.campaign_id}`
      : sql`m.trigger_id = ${scope.trigger_id}`;
  return sql`
    select m.customer_id, bool_and(m.status = 'holdout') as held,
      min(m.suppressed_reason) filter (where m.status = 'holdout') as reason, min(m.created_at) as at
    from messages m
    where ${where} and m.status not in ('suppressed', 'cancelled')
    group by m.customer_id`;
}

/** The treated and held-out groups' outcomes over the window, by holdout reason. */
async function samples(
  sql: Db,
  scope: IncrementalScope,
  windowDays: number,
  currency: string,
): Promise<SampleRow[]> {
  return sql<SampleRow[]>`
    with g as (${members(sql, scope)}),
    o as (
      select g.held, g.reason, g.customer_id,
        coalesce(sum(report_amount(p.amount, p.currency, ${currency}::text)), 0)::float8 as revenue,
        coalesce(bool_or(p.kind = 'purchase'), false) as converted
      from g left join purchases p on p.customer_id = g.customer_id
        and p.purchased_at >= g.at and p.purchased_at < g.at + make_interval(days => ${windowDays})
      group by g.held, g.reason, g.customer_id
    )
    select held, case when held then reason end as reason, count(*)::int as customers,
      count(*) filter (where converted)::int as conversions,
      coalesce(sum(revenue), 0)::float8 as revenue, coalesce(sum(revenue * revenue), 0)::float8 as revenue_sq,
      -- Each customer's revenue for the bootstrap interval, up to what it resamples in its budget.
      case when count(*) filter (where revenue <> 0) <= ${MAX_BOOTSTRAP_REVENUES}
        then coalesce(array_agg(revenue) filter (where revenue <> 0), '{}') end as revenues
    from o group by 1, 2`;
}

const empty = (): GroupSample & { revenues: number[] | undefined } => ({
  customers: 0,
  conversions: 0,
  revenue: 0,
  revenue_sq: 0,
  revenues: [],
});

function add(into: ReturnType<typeof empty>, row: GroupSample): void {
  into.customers += row.customers;
  into.conversions += row.conversions;
  into.revenue += row.revenue;
  into.revenue_sq += row.revenue_sq;
  // One row too large to resample leaves the whole group to the normal interval.
  if (into.revenues && row.revenues) into.revenues.push(...row.revenues);
  else into.revenues = undefined;
}

/** The incremental section of a campaign's, trigger's or offer's report. */
export async function incrementalReport(
  sql: Db,
  scope: IncrementalScope,
  options: { windowDays: number; currency: string },
): Promise<IncrementalReport> {
  const rows = await samples(sql, scope, options.windowDays, options.currency);
  const treated = empty();
  const holdout = empty();
  const reasons: Record<string, number> = {};
  for (const row of rows) {
    add(row.held ? holdout : treated, row);
    if (row.held) reasons[row.reason ?? 'holdout'] = (reasons[row.reason ?? 'holdout'] ?? 0) + row.customers;
  }
  return {
    window_days: options.windowDays,
    currency: options.currency,
    holdout_reasons: reasons,
    ...incrementalLift(treated, holdout),
  };
}
