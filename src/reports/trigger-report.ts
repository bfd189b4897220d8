import type { Db } from '../db/sql.js';
import { notFound } from '../http/problem.js';
import { type Metrics, withRates } from './campaign-report.js';
import { type CurrencyRevenue, DEFAULT_REPORT_CURRENCY, revenueByCurrency, unconverted } from './currency.js';
import { type CountRow, offerNames } from './store.js';
import { findTrigger, type SentWindow, triggerBreakdown, triggerTotals } from './trigger-store.js';

export interface TriggerInfo {
  id: number;
  name: string;
  event: string;
  enabled: boolean;
  deleted: boolean;
}

export interface TriggerReport {
  trigger: TriggerInfo;
  include_machine: boolean;
  /** What every `revenue` is in (REPORT_CURRENCY). */
  currency: string;
  revenue_by_currency: CurrencyRevenue[];
  unconverted_currencies: string[];
  from: string | null;
  to: string | null;
  totals: Metrics;
  offers: Array<{ offer_id: number; name: string | null } & Metrics>;
}

export interface TriggerReportOptions {
  includeMachine?: boolean;
  window?: SentWindow;
  /** REPORT_CURRENCY (default EUR). */
  currency?: string;
}

const ZERO: CountRow = { sent: 0, delivered: 0, bounced: 0, opens: 0, clicks: 0, conversions: 0, revenue: 0 };

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/**
 * What one trigger's messages earned (sent within the window, all their outcomes): totals and
 * per offer, with the campaign report's metrics and rates.
 */
export async function triggerReport(
  sql: Db,
  triggerId: number,
  options: TriggerReportOptions = {},
): Promise<TriggerReport> {
  const includeMachine = options.includeMachine ?? false;
  const window = options.window ?? {};
  const currency = options.currency ?? DEFAULT_REPORT_CURRENCY;
  const [trigger, rows, byCurrency] = await Promise.all([
    findTrigger(sql, triggerId),
    triggerBreakdown(sql, triggerId, includeMachine, window, currency),
    revenueByCurrency(sql, { trigger_id: triggerId }, currency, window),
  ]);
  if (!trigger) throw notFound(`Trigger ${triggerId}`);
  let totals = ZERO;
  const offerRows: Array<{ offer_id: number } & CountRow> = [];
  for (const { dim, key, ...counts } of rows) {
    if (dim === 'total') totals = counts;
    else offerRows.push({ offer_id: Number(key), ...counts });
  }
  offerRows.sort((a, b) => a.offer_id - b.offer_id);
  const names = await offerNames(
    sql,
    offerRows.map((o) => o.offer_id),
  );
  return {
    trigger,
    include_machine: includeMachine,
    currency,
    revenue_by_currency: byCurrency,
    unconverted_currencies: unconverted(byCurrency),
    from: iso(window.from),
    to: iso(window.to),
    totals: withRates(totals),
    offers: offerRows.map(({ offer_id, ...counts }) => ({
      offer_id,
      name: names.get(offer_id) ?? null,
      ...withRates(counts),
    })),
  };
}

/** Each trigger's totals (live triggers, and deleted ones that sent in the window). */
export async function triggersReport(
  sql: Db,
  options: TriggerReportOptions = {},
): Promise<Array<TriggerInfo & Metrics>> {
  const rows = await triggerTotals(
    sql,
    options.includeMachine ?? false,
    options.window ?? {},
    options.currency ?? DEFAULT_REPORT_CURRENCY,
  );
  return rows.map(({ trigger_id, name, event, enabled, deleted, ...counts }) => ({
    id: trigger_id,
    name,
    event,
    enabled,
    deleted,
    ...withRates(counts),
  }));
}
