import { rate } from './stats.js';
import type { CountRow } from './store.js';

/** A report's counts with their rates. */
export interface Metrics extends CountRow {
  open_rate: number;
  click_rate: number;
  click_to_open_rate: number;
  conversion_rate: number;
  revenue_per_recipient: number;
}

/** Rates over delivered messages; revenue per recipient over sent ones. */
export function withRates(c: CountRow): Metrics {
  return {
    ...c,
    revenue: Math.round(c.revenue * 100) / 100,
    open_rate: rate(c.opens, c.delivered),
    click_rate: rate(c.clicks, c.delivered),
    click_to_open_rate: rate(c.clicks, c.opens),
    conversion_rate: rate(c.conversions, c.delivered),
    revenue_per_recipient: Math.round(rate(c.revenue, c.sent) * 10000) / 10000,
  };
}
