import type { Db } from '../db/sql.js';
import { clearMessageReplies, countInFlightSends } from './store.js';

export interface SettleOptions {
  /** Stop waiting after this long (a sender stuck on a dead database must not hold the request). */
  timeoutMs?: number;
  /** Rows untouched this long belong to a dead sender: its claim will see the erasure. */
  leaseSeconds?: number;
  pollMs?: number;
}

/**
 * After an erasure committed, waits until no sender is in the middle of mailing the customer:
 * a send that passed its last check before the erasure finishes and records `sent`, and only
 * then does the erasure answer, so no mail reaches the recipient after the response (unless the
 * wait timed out: returns false). The SMTP replies recorded meanwhile are cleared like the rest.
 */
export async function settleInFlightSends(sql: Db, customerId: number, options: SettleOptions = {}) {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const lease = options.leaseSeconds ?? 60;
  let waited = false;
  for (;;) {
    const busy = await countInFlightSends(sql, customerId, lease);
    if (busy === 0) break;
    if (Date.now() >= deadline) return false;
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
  if (waited) await clearMessageReplies(sql, customerId);
  return true;
}
