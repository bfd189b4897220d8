import type { Db, Fragment } from '../db/sql.js';

// Revenue is recorded in the currency of each purchase or conversion. Reports never add
// different currencies as plain numbers: every sum goes through report_amount() (migration
// 0015), which converts to the report currency with the operator's rates
// (POST /v1/currency-rates) and leaves out what no rate converts; revenueByCurrency gives one
// figure per currency beside it, so nothing left out is hidden.

/**
 * A conversion event's revenue (events aliased `alias`) in `currency`, null when no rate
 * converts it: sum it, never `data ->> 'revenue'` directly.
 */
export function revenueIn(sql: Db, currency: string, alias = 'e'): Fragment {
  return sql`report_amount((${sql(alias)}.data ->> 'revenue')::numeric, ${sql(alias)}.data ->> 'currency', ${currency}::text)`;
}

/** REPORT_CURRENCY's default (src/config.ts), for callers without a config. */
export const DEFAULT_REPORT_CURRENCY = 'EUR';

export interface CurrencyRevenue {
  currency: string;
  /** In that currency, as recorded. */
  revenue: number;
  /** In the report currency; null when no rate converts it (then it is not in `revenue` totals). */
  converted: number | null;
}

/** What a report's scope covers: conversions of a campaign, a trigger, an offer, some campaigns, or of any offer. */
export type RevenueScope =
  | { campaign_id: number }
  | { trigger_id: number }
  | { offer_id: number }
  | { campaign_ids: number[] }
  | { any_offer: true };

/**
 * Conversions' revenue (net of their refunds) per currency in a scope, each with its value in the report currency;
 * with `sentWindow`, only conversions of messages sent in it (as the trigger reports count).
 */
export async function revenueByCurrency(
  sql: Db,
  scope: RevenueScope,
  currency: string,
  sentWindow: { from?: Date | undefined; to?: Date | undefined } = {},
): Promise<CurrencyRevenue[]> {
  const from = sentWindow.from ?? null;
  const to = sentWindow.to ?? null;
  const where =
    'campaign_id' in scope
      ? sql`e.campaign_id = ${scope.campaign_id}`
      : 'trigger_id' in scope
        ? sql`e.trigger_id = ${scope.trigger_id}`
        : 'offer_id' in scope
          ? sql`e.offer_id = ${scope.offer_id}`
          : 'campaign_ids' in scope
            ? sql`e.campaign_id = any(${scope.campaign_ids}::bigint[])`
            : sql`e.offer_id is not null`;
  const rows = await sql<
    { currency: string; revenue: number; converted: number | null; convertible: boolean }[]
  >`
    select upper(coalesce(e.data ->> 'currency', ${currency}::text)) as currency,
      round(sum((e.data ->> 'revenue')::numeric), 2)::float8 as revenue,
      round(sum(${revenueIn(sql, currency)}), 2)::float8 as converted,
      bool_and(${revenueIn(sql, currency)} is not null) as convertible
    from contact_events e
    where ${where} and e.kind in ('converted', 'refunded')
      and (${from === null && to === null} or exists (
        select 1 from messages m where m.id = e.message_id
          and (${from}::timestamptz is null or m.sent_at >= ${from}::timestamptz)
          and (${to}::timestamptz is null or m.sent_at < ${to}::timestamptz)))
    group by 1
    order by 1`;
  return rows.map((r) => ({
    currency: r.currency,
    revenue: r.revenue,
    converted: r.convertible ? r.converted : null,
  }));
}

/** The currencies of `rows` that no rate converts (their revenue is outside the totals). */
export const unconverted = (rows: readonly CurrencyRevenue[]): string[] =>
  rows.filter((r) => r.converted === null).map((r) => r.currency);
