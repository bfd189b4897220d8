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
