import { createHmac } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { type RecipientFacts, recipientFacts, suppressionsOf } from './ledger.js';

/**
 * The key of an address in `suppressions`: HMAC-SHA256 of the lowercased, trimmed address with
 * OFFERFLOW_SECRET. An erased person's address is never stored in clear, yet a later import of
 * the same address is still recognised.
 */
export function emailHash(secret: string, email: string): Buffer {
  return createHmac('sha256', secret)
    .update('offerflow-suppression:')
    .update(email.trim().toLowerCase())
    .digest();
}

/**
 * Why a customer may not be mailed, or null if they may. Under `consent` and `double_opt_in`
 * only an explicit opt-in counts (under `double_opt_in` it is written only on confirmation);
 * under `legitimate_interest` only an explicit opt-out stops the mail.
 */
export function suppressionReason(
  facts: RecipientFacts,
  suppressed: string | undefined,
  basis: Config['MARKETING_LEGAL_BASIS'],
): string | null {
  if (facts.erased) return 'erased';
  if (!facts.email) return 'no_email';
  if (suppressed) return suppressed;
  if (facts.marketing === false) return 'unsubscribed';
  if (basis !== 'legitimate_interest' && facts.marketing !== true) return 'no_consent';
  return null;
}

/**
 * Each customer's suppression reason (null: may be mailed), read in three queries whatever the
 * number of customers: their facts, the suppression list for their addresses' keys, and the
 * rule above. A customer who no longer exists has no entry: callers decide what that means.
 */
export async function suppressionReasons(
  sql: Db,
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'>,
  customerIds: readonly number[],
): Promise<Map<number, string | null>> {
  const facts = await recipientFacts(sql, [...customerIds]);
  const hashes = new Map<number, string>();
  for (const f of facts)
    if (f.email) hashes.set(f.id, emailHash(config.OFFERFLOW_SECRET, f.email).toString('hex'));
  const listed = await suppressionsOf(sql, [...hashes.values()]);
  const reasons = new Map<number, string | null>();
  for (const f of facts) {
    const hash = hashes.get(f.id);
    reasons.set(
      f.id,
      suppressionReason(f, hash ? listed.get(hash) : undefined, config.MARKETING_LEGAL_BASIS),
    );
  }
  return reasons;
}
