import type { Db } from '../db/sql.js';
import { type IncrementalReport, incrementalReport } from '../holdouts/report.js';
import { notFound } from '../http/problem.js';
import { type CurrencyRevenue, DEFAULT_REPORT_CURRENCY } from './currency.js';
import type { Metrics } from './metrics.js';
import { withRates } from './metrics.js';
import { scopeReport } from './report-core.js';
import type { SentWindow } from './store.js';
import { findTrigger, triggerTotals } from './trigger-store.js';

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
  /** Treated against held out over the same window from planning (every firing, not only the window's). */
  incremental: IncrementalReport;
}

export interface TriggerReportOptions {
  includeMachine?: boolean;
  window?: SentWindow;
  /** REPORT_CURRENCY (default EUR). */
  currency?: string;
  /** Days each customer is followed in the incremental section (default 7). */
  windowDays?: number;
}

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
  const [trigger, report, incremental] = await Promise.all([
    findTrigger(sql, triggerId),
    scopeReport(
      sql,
      { trigger_id: triggerId },
      {
        includeMachine,
        window,
        currency,
      },
    ),
    incrementalReport(sql, { trigger_id: triggerId }, { windowDays: options.windowDays ?? 7, currency }),
  ]);
  if (!trigger) throw notFound(`Trigger ${triggerId}`);
  return {
    trigger,
    include_machine: includeMachine,
    currency: report.currency,
    revenue_by_currency: report.revenue_by_currency,
    unconverted_currencies: report.unconverted_currencies,
    from: iso(window.from),
    to: iso(window.to),
    totals: report.totals,
    offers: report.offers,
    incremental,
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
