import type { Db } from '../db/sql.js';

// A customer's emails in the send ledger (`messages`), campaign and automated alike.

export const MESSAGE_STATUSES = [
  'queued',
  'held',
  'sending',
  'sent',
  'failed',
  'suppressed',
  'cancelled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface CustomerMessageRow {
  id: number;
  customer_id: number;
  campaign_id: number | null;
  campaign_name: string | null;
  trigger_id: number | null;
  trigger_name: string | null;
  variant: string | null;
  status: MessageStatus;
  suppressed_reason: string | null;
  policy_reason: string | null;
  error: string | null;
  offer_ids: number[];
  send_at: Date | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT = (db: Db) => db`
  select m.id, m.customer_id, m.campaign_id, c.name as campaign_name, m.trigger_id, t.name as trigger_name,
    m.variant, m.status, m.suppressed_reason, m.policy_reason, m.error, m.offer_ids, m.send_at, m.sent_at, m.created_at, m.updated_at
  from messages m
    left join campaigns c on c.id = m.campaign_id
    left join triggers t on t.id = m.trigger_id`;

/** A customer's messages newest first (by id), keyset before `beforeId`, optionally by status. */
export async function customerMessages(
  db: Db,
  input: {
    customerId: number;
    limit: number;
    beforeId?: number | undefined;
    statuses?: MessageStatus[] | undefined;
  },
): Promise<CustomerMessageRow[]> {
  return db<CustomerMessageRow[]>`
    ${SELECT(db)}
    where m.customer_id = ${input.customerId}
      ${input.beforeId ? db`and m.id < ${input.beforeId}` : db``}
      ${input.statuses ? db`and m.status = any(${input.statuses}::text[])` : db``}
    order by m.id desc
    limit ${input.limit + 1}`;
}

export async function findMessage(db: Db, id: number): Promise<CustomerMessageRow | undefined> {
  const [row] = await db<CustomerMessageRow[]>`${SELECT(db)} where m.id = ${id}`;
  return row;
}

/**
 * Cancels one message not sent yet (queued or held for an A/B winner); the row is locked, so a
 * sender claiming it meanwhile either wins (then it is `sending`, no longer cancellable) or finds
 * it cancelled. Returns whether it was cancelled.
 */
export async function cancelMessage(db: Db, id: number, reason: string): Promise<boolean> {
  const rows = await db`
    update messages set status = 'cancelled', suppressed_reason = ${reason}, updated_at = now()
    where id = ${id} and status in ('queued', 'held') returning id`;
  return rows.length > 0;
}
