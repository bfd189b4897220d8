import type { Db } from '../db/sql.js';

export type SmtpGuard = 'ok' | 'erased' | 'settled';

/**
 * The sender's last look at a claimed row right before SMTP, in one statement: the row must
 * still be `sending` (nobody settled it meanwhile) and its customer not erased since the claim.
 * It renews the lease too, so a slow render does not let the lease run out mid-transaction.
 * An erasure that commits after this look waits for the send to settle (see privacy/erase.ts),
 * and the row then says `sent`: the ledger records what went on the wire.
 */
export async function confirmBeforeSmtp(sql: Db, id: number): Promise<SmtpGuard> {
  const [row] = await sql<{ erased: boolean }[]>`
    update messages m set updated_at = now()
    where m.id = ${id} and m.status = 'sending'
    returning exists (select 1 from customers c where c.id = m.customer_id and c.erased_at is not null) as erased`;
  if (!row) return 'settled';
  return row.erased ? 'erased' : 'ok';
}
