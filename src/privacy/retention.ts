import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { flagInactiveCustomers, pseudonymizeOldEvents, unflagActiveCustomers } from './store.js';

export interface RetentionResult {
  events_pseudonymized: number;
  customers_flagged: number;
  customers_unflagged: number;
}

const DAY_MS = 86_400_000;

/** Events pseudonymized per statement: short transactions, no long row locks on the history. */
const BATCH = 5000;

/**
 * Applies the retention periods: contact events older than RETENTION_EVENTS_DAYS keep their
 * kind, time, links and amounts but lose free text, author and non-fact data; customers with
 * no event, purchase or change for RETENTION_INACTIVE_DAYS get `inactive_at` (cleared again
 * when they come back). A period of 0 turns that part off. Idempotent; safe to run concurrently.
 */
export async function applyRetention(
  sql: Db,
  config: Pick<Config, 'RETENTION_EVENTS_DAYS' | 'RETENTION_INACTIVE_DAYS'>,
  now: Date,
): Promise<RetentionResult> {
  const result: RetentionResult = { events_pseudonymized: 0, customers_flagged: 0, customers_unflagged: 0 };
  if (config.RETENTION_EVENTS_DAYS > 0) {
    const cutoff = new Date(now.getTime() - config.RETENTION_EVENTS_DAYS * DAY_MS);
    for (;;) {
      const n = await pseudonymizeOldEvents(sql, cutoff, BATCH);
      result.events_pseudonymized += n;
      if (n < BATCH) break;
    }
  }
  if (config.RETENTION_INACTIVE_DAYS > 0) {
    const cutoff = new Date(now.getTime() - config.RETENTION_INACTIVE_DAYS * DAY_MS);
    result.customers_unflagged = await unflagActiveCustomers(sql, cutoff);
    result.customers_flagged = await flagInactiveCustomers(sql, cutoff, now);
  }
  return result;
}
