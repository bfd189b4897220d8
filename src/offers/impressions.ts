import type { Db } from '../db/sql.js';
import { insertImpressions } from './store.js';

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
 * offer), idempotent, and `offers.shown_count` raised once per new row, in one statement. Caps
 * count these rows, so they hold across campaigns and triggers. Call it in the transaction that
 * marks the message sent. Returns the offer ids newly recorded (empty on a retry).
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
