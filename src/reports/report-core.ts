import type { Db } from '../db/sql.js';
import { type CurrencyRevenue, DEFAULT_REPORT_CURRENCY, revenueByCurrency, unconverted } from './currency.js';
import { type Metrics, withRates } from './metrics.js';
import { type CountRow, offerNames, type ReportScope, type SentWindow, scopeBreakdown } from './store.js';

// The one report core: what a scope's messages (a campaign's, a trigger's) earned, totals, by
// variant and by offer. The campaign and trigger reports add their own head around it.

export const ZERO: CountRow = {
  sent: 0,
  delivered: 0,
  bounced: 0,
  opens: 0,
  clicks: 0,
  conversions: 0,
  revenue: 0,
};
const COUNT_KEYS = Object.keys(ZERO) as Array<keyof CountRow>;

export function addCounts(into: CountRow, from: CountRow): void {
  for (const k of COUNT_KEYS) into[k] += from[k];
}

export interface ScopeReport {
  /** The currency `revenue` figures are in (REPORT_CURRENCY). */
  currency: string;
  /** Revenue per recorded currency, each with its value in `currency` (null: no rate converts it). */
  revenue_by_currency: CurrencyRevenue[];
  /** Currencies no rate converts: their revenue is in `revenue_by_currency` only, not in the totals. */
  unconverted_currencies: string[];
  totals: Metrics;
  variants: Array<{ variant: string | null } & Metrics>;
  offers: Array<{ offer_id: number; name: string | null } & Metrics>;
}

/**
 * Totals, variants (by name) and offers (by id, with their names) of a scope's sent messages,
 * revenue in `currency` (REPORT_CURRENCY, default EUR), and the revenue per recorded currency.
 */
export async function scopeReport(
  sql: Db,
  scope: ReportScope,
  options: { includeMachine: boolean; window?: SentWindow; currency?: string },
): Promise<ScopeReport> {
  const currency = options.currency ?? DEFAULT_REPORT_CURRENCY;
  const window = options.window ?? {};
  const [rows, byCurrency] = await Promise.all([
    scopeBreakdown(sql, scope, options.includeMachine, currency, window),
    revenueByCurrency(sql, scope, currency, window),
  ]);
  const totals = { ...ZERO };
  const variants: ScopeReport['variants'] = [];
  const offerRows: Array<{ offer_id: number } & CountRow> = [];
  for (const { dim, key, ...counts } of rows) {
    if (dim === 'variant') {
      addCounts(totals, counts);
      variants.push({ variant: key, ...withRates(counts) });
    } else {
      offerRows.push({ offer_id: Number(key), ...counts });
    }
  }
  variants.sort((a, b) => String(a.variant ?? '').localeCompare(String(b.variant ?? '')));
  offerRows.sort((a, b) => a.offer_id - b.offer_id);
  const names = await offerNames(
    sql,
    offerRows.map((o) => o.offer_id),
  );
  return {
    currency,
    revenue_by_currency: byCurrency,
    unconverted_currencies: unconverted(byCurrency),
    totals: withRates(totals),
    variants,
    offers: offerRows.map(({ offer_id, ...counts }) => ({
      offer_id,
      name: names.get(offer_id) ?? null,
      ...withRates(counts),
    })),
  };
}
