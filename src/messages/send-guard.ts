import type { Db } from '../db/sql.js';
import { lockedInIdOrder } from './ledger.js';

export type SmtpGuard = 'ok' | 'erased' | 'settled';

/**
 * The sender's last look at claimed rows right before SMTP, in one statement for many: each row
 * must still be `sending` (nobody settled it meanwhile) and its customer not erased since the
 * claim. It renews the leases too, so a slow render does not let a lease run out mid-transaction.
 * An erasure that commits after this look waits for the send to settle (see privacy/erase.ts),
 * and the row then says `sent`: the ledger records what went on the wire.
 */
export async function confirmManyBeforeSmtp(
  sql: Db,
  ids: readonly number[],
): Promise<Map<number, SmtpGuard>> {
  const verdicts = new Map<number, SmtpGuard>(ids.map((id) => [id, 'settled']));
  if (ids.length === 0) return verdicts;
  const rows = await sql<{ id: number; erased: boolean }[]>`
    update messages m set updated_at = now()
    from ${lockedInIdOrder(sql, sql`id = any(${ids as number[]}::bigint[]) and status = 'sending'`)}
    where m.id = locked.id and m.status = 'sending'
    returning m.id,
      exists (select 1 from customers c where c.id = m.customer_id and c.erased_at is not null) as erased`;
  for (const row of rows) verdicts.set(row.id, row.erased ? 'erased' : 'ok');
  return verdicts;
}

/** confirmManyBeforeSmtp for one row. */
export async function confirmBeforeSmtp(sql: Db, id: number): Promise<SmtpGuard> {
  return (await confirmManyBeforeSmtp(sql, [id])).get(id) ?? 'settled';
}
