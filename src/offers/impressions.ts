import type { Db } from '../db/sql.js';
import { insertImpressions, rollUpImpressionCounts } from './store.js';

export interface ImpressionInput {
  customer_id: number;
  message_id: number;
  offer_ids: readonly number[];
  campaign_id?: number | null;
  trigger_id?: number | null;
  at: Date;
}

/**
 * Records that a sent message showed these offers: one `offer_impressions` row per (message,
 * offer), idempotent. Caps count these rows, so they hold across campaigns and triggers; an
 * offer's `shown_count` includes them at once (it is read as the rolled-up column plus the rows
 * not folded in yet), and the offer row itself is not touched, so concurrent senders never
 * queue or deadlock on a popular offer. Call it in the transaction that marks the message sent.
 * Returns the offer ids newly recorded (empty on a retry).
 *
 * No contact event is appended here: the sender's one `sent` event carries the offer ids, which
 * keeps the timeline at one line per mail; this table is the per-offer ledger.
 */
export async function recordOfferImpressions(sql: Db, input: ImpressionInput): Promise<number[]> {
  const offerIds = [...new Set(input.offer_ids)];
  if (offerIds.length === 0) return [];
  return insertImpressions(sql, {
    customerId: input.customer_id,
    messageId: input.message_id,
    offerIds,
    campaignId: input.campaign_id ?? null,
    triggerId: input.trigger_id ?? null,
    at: input.at,
  });
}

/**
 * Folds recorded impressions into `offers.shown_count` in one batched statement (the reconciler
 * runs it each tick). Only an optimisation: reads are exact without it. Returns how many.
 */
export function rollUpShownCounts(sql: Db): Promise<number> {
  return rollUpImpressionCounts(sql);
}
