import type { Db } from '../db/sql.js';
import { emailHash } from '../messages/suppression.js';

// The hash is the sender's (src/messages/suppression.ts), so what is suppressed here is skipped there.
export { emailHash };

/** Suppresses an address for good; suppressing it again keeps the first reason. */
export async function suppressAddress(
  sql: Db,
  secret: string,
  input: { email: string; reason: string; source: string },
): Promise<void> {
  // Record the suppression of one address (idempotent).
  await sql`
    insert into suppressions (email_hash, reason, source)
    values (${emailHash(secret, input.email)}, ${input.reason}, ${input.source})
    on conflict (email_hash) do nothing`;
}
