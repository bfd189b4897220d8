import type { Db } from '../db/sql.js';
import { suppressAddress } from '../tracking/suppress.js';
import { eraseCustomerRow } from './store.js';

/**
 * Erasure (right to be forgotten): clears the profile, consent IPs and free text of the contact
 * history, keeps the rows for reports, and suppresses the address (as a keyed hash) so it is
 * never mailed again. False when no such customer.
 */
export async function eraseCustomer(db: Db, input: { id: number; secret: string }): Promise<boolean> {
  const before = await eraseCustomerRow(db, input.id);
  if (!before) return false;
  if (before.email) {
    await suppressAddress(db, input.secret, { email: before.email, reason: 'erased', source: 'erasure' });
  }
  return true;
}
