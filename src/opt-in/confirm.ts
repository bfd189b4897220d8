import { recordConsent } from '../customers/consents.js';
import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { verifyOptInToken } from './requests.js';

export type ConfirmOutcome = 'confirmed' | 'already' | 'expired' | 'invalid';

interface OptInRow {
  id: number;
  customer_id: number;
  email: string;
  source: string;
  text_version: string | null;
  expires_at: Date;
  confirmed_at: Date | null;
  current_email: string | null;
  erased: boolean;
}

/** The request a token names, locked for the transaction. */
async function lockRequest(tx: Db, id: number): Promise<OptInRow | null> {
  const [row] = await tx<OptInRow[]>`
    select o.id, o.customer_id, o.email, o.source, o.text_version, o.expires_at, o.confirmed_at,
      c.email as current_email, c.erased_at is not null as erased
    from opt_in_requests o join customers c on c.id = o.customer_id
    where o.id = ${id}
    for update of o`;
  return row ?? null;
}

/** Whether a token names a live, unconfirmed request (for the page shown before the click). */
export async function checkOptIn(
  deps: Pick<AppDeps, 'sql' | 'config' | 'clock'>,
  token: string,
): Promise<ConfirmOutcome | 'pending'> {
  const id = verifyOptInToken(deps.config.OFFERFLOW_SECRET, token);
  if (id === null) return 'invalid';
  const [row] = await deps.sql<{ expires_at: Date; confirmed_at: Date | null }[]>`
    select expires_at, confirmed_at from opt_in_requests where id = ${id}`;
  if (!row) return 'invalid';
  if (row.confirmed_at) return 'already';
  return row.expires_at <= deps.clock() ? 'expired' : 'pending';
}

/**
 * The confirmation click (a POST: link scanners and prefetchers issue GETs, and must not opt
 * anybody in). Grants marketing consent with its proof on the ledger: when, from which IP,
 * the text version the person agreed to, and where the request came from (`double_opt_in:<source>`).
 * Only for the address the request was mailed to, before it expires, once.
 */
export async function confirmOptIn(
  deps: Pick<AppDeps, 'sql' | 'config' | 'clock'>,
  token: string,
  proof: { ip: string | null; userAgent: string | null },
): Promise<ConfirmOutcome> {
  const id = verifyOptInToken(deps.config.OFFERFLOW_SECRET, token);
  if (id === null) return 'invalid';
  return deps.sql.begin(async (tx) => {
    const row = await lockRequest(tx, id);
    if (!row || row.erased) return 'invalid';
    if (row.confirmed_at) return 'already';
    const at = deps.clock();
    // The address changed since: the confirmation is about an address the customer no longer has.
    if (row.expires_at <= at || row.current_email?.toLowerCase() !== row.email.toLowerCase())
      return 'expired';
    await tx`
      update opt_in_requests set confirmed_at = ${at}, confirmed_ip = ${proof.ip}::inet,
        confirmed_user_agent = ${proof.userAgent?.slice(0, 500) ?? null}
      where id = ${id}`;
    await recordConsent(tx, {
      customer_id: row.customer_id,
      purpose: 'marketing_email',
      granted: true,
      source: `double_opt_in:${row.source}`.slice(0, 100),
      text_version: row.text_version,
      ip: proof.ip,
      at,
    });
    await tx`
      insert into contact_events (customer_id, kind, channel, data, at)
      values (${row.customer_id}, 'opt_in_confirmed', 'email', ${tx.json({ opt_in_request_id: id } as never)}, ${at})`;
    return 'confirmed';
  });
}
