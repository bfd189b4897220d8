import type { Db } from '../db/sql.js';
import type { NewEvent } from '../tracking/store.js';
import {
  attributeAfterTouches,
  attributeStoredPurchaseRange,
  attributeStoredPurchases,
  type Conversion,
  insertAttributedConversions,
  insertRefundReversals,
  type PurchaseForAttribution,
  type RefundForAttribution,
} from './store.js';

export type { Conversion, PurchaseForAttribution, RefundForAttribution };

/**
 * Takes refund lines off the revenue of the conversions of their orders (see
 * insertRefundReversals). Call it in the transaction that stores the lines.
 */
export async function attributeRefunds(sql: Db, refunds: RefundForAttribution[]): Promise<void> {
  for (let i = 0; i < refunds.length; i += 5000) await insertRefundReversals(sql, refunds.slice(i, i + 5000));
}

// Attribution must not depend on the order in which a click and the purchase it preceded reach
// the database: opens and clicks are buffered before they are written, and several API processes
// write them. So each side attributes once its rows are committed: the purchase side after its
// transaction (and, for the common case of a touch stored long before, also inside it), the
// touch side after each flush. Whichever commits second sees the other: if the touch's pass ran
// before the purchase committed, the purchase's own pass runs after that commit and sees the
// touch. Passes from both sides converge on one row per line (see attributeLines).

/**
 * Attributes stored purchase lines to the last message the customer clicked (default window 7
 * days) or opened (1 day) before buying, with the windows of that message's campaign
 * (`campaigns.attribution`), and records a `converted` event with the revenue and the matching
 * offer. Idempotent per purchase line; call it in the transaction that stores the lines, and
 * `attributeCommittedPurchases` once it has committed.
 */
export async function attributePurchases(
  sql: Db,
  purchases: PurchaseForAttribution[],
): Promise<Conversion[]> {
  if (purchases.length === 0) return [];
  const conversions: Conversion[] = [];
  // Bound the JSON document per statement for big imports.
  for (let i = 0; i < purchases.length; i += 5000) {
    conversions.push(...(await insertAttributedConversions(sql, purchases.slice(i, i + 5000))));
  }
  return conversions;
}

/** The purchase side, after the commit: attributes these committed lines to touches stored since. */
export async function attributeCommittedPurchases(sql: Db, ids: readonly number[]): Promise<Conversion[]> {
  const conversions: Conversion[] = [];
  for (let i = 0; i < ids.length; i += 5000) {
    conversions.push(...(await attributeStoredPurchases(sql, ids.slice(i, i + 5000))));
  }
  return conversions;
}

/** The purchase side of an import batch, after its commit: the lines with ids in [from, to]. */
export async function attributeCommittedPurchaseRange(
  sql: Db,
  from: number,
  to: number,
): Promise<Conversion[]> {
  if (to < from) return [];
  // The batch is committed: failing here would fail the import, whose resumed run skips the
  // batch, so a deadlock with a concurrent pass is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await attributeStoredPurchaseRange(sql, from, to);
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= 3) throw error;
    }
  }
}

/** The touch side, after a batch of tracking events is stored: the lines its opens and clicks may convert. */
export async function attributeStoredTouches(sql: Db, events: readonly NewEvent[]): Promise<Conversion[]> {
  const touches = events.filter((e) => (e.kind === 'opened' || e.kind === 'clicked') && !e.machine);
  if (touches.length === 0) return [];
  return attributeAfterTouches(sql, touches);
}
