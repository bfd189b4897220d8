import type { Db } from '../db/sql.js';
import {
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

/**
 * Attributes stored purchase lines to the last message the customer clicked (default window 7
 * days) or opened (1 day) before buying, with the windows of that message's campaign
 * (`campaigns.attribution`), and records a `converted` event with the revenue and the matching
 * offer. Idempotent per purchase line; call it in the transaction that stores the lines.
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
