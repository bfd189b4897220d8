import type { Db } from '../db/sql.js';

/**
 * Notes that a provider's event was applied; false when it already was (a retry or a replay).
 * Called inside the transaction that applies the event, so a failure leaves no receipt behind.
 */
export async function claimReceipt(sql: Db, provider: string, eventId: string): Promise<boolean> {
  // Record one applied event; nothing comes back when it was recorded before.
  const rows = await sql`
    insert into inbound_receipts (provider, event_id) values (${provider}, ${eventId.slice(0, 500)})
    on conflict do nothing
    returning 1`;
  return rows.length === 1;
}

/** Whether a provider's event was applied already (read before verifying it again). */
export async function hasReceipt(sql: Db, provider: string, eventId: string): Promise<boolean> {
  // Look up one applied event by its provider id.
  const rows = await sql`
    select 1 from inbound_receipts where provider = ${provider} and event_id = ${eventId.slice(0, 500)}`;
  return rows.length === 1;
}

/** Deletes receipts received before `cutoff`, in batches (short transactions); returns how many. */
export async function pruneReceipts(sql: Db, cutoff: Date, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    // Oldest first by the received_at index; ctid keeps each batch to one cheap delete.
    const rows = await sql`
      delete from inbound_receipts where ctid in (
        select ctid from inbound_receipts where received_at < ${cutoff} order by received_at limit ${batch})
      returning 1`;
    total += rows.length;
    if (rows.length < batch) return total;
  }
}

/** The message that went out with this Message-ID header, if any (ESPs report it back). */
export async function messageBySmtpId(sql: Db, smtpMessageId: string): Promise<number | null> {
  const bracketed = smtpMessageId.startsWith('<') ? smtpMessageId : `<${smtpMessageId}>`;
  // Find a sent message by the Message-ID it carried.
  const [row] = await sql<{ id: number }[]>`
    select id from messages where smtp_message_id = ${bracketed} order by id limit 1`;
  return row?.id ?? null;
}

/** Whether a message exists (a VERP token may name one since deleted). */
export async function messageExists(sql: Db, messageId: number): Promise<boolean> {
  // Primary-key lookup of one message.
  const rows = await sql`select 1 from messages where id = ${messageId}`;
  return rows.length === 1;
}
