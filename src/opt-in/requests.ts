import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';

/** How marketing grants are taken: at once, or only once the address confirms them. */
export interface OptInPolicy {
  doubleOptIn: boolean;
  linkDays: number;
}

export const optInPolicy = (
  config: Pick<Config, 'MARKETING_LEGAL_BASIS' | 'OPT_IN_LINK_DAYS'>,
): OptInPolicy => ({
  doubleOptIn: config.MARKETING_LEGAL_BASIS === 'double_opt_in',
  linkDays: config.OPT_IN_LINK_DAYS,
});

export interface OptInInput {
  customer_id: number;
  source: string;
  text_version?: string | null | undefined;
  ip?: string | null | undefined;
}

/**
 * Opens a confirmation request per customer with an address (the mail goes out from the
 * sender workers, which poll for unmailed requests: an outbox, so it works from the edge too).
 * A customer whose marketing consent is already granted, or who has a request still open and
 * unexpired, gets none: asking twice does not send two mails. Returns the new request ids.
 */
export async function requestOptIns(
  db: Db,
  policy: OptInPolicy,
  inputs: readonly OptInInput[],
): Promise<number[]> {
  if (inputs.length === 0) return [];
  const rows = inputs.map((i) => ({
    customer_id: i.customer_id,
    source: i.source,
    text_version: i.text_version ?? null,
    ip: i.ip ?? null,
  }));
  // Open one request per customer who has an address, is not erased, not already opted in and
  // has no open request.
  const created = await db<{ id: number }[]>`
    insert into opt_in_requests (customer_id, email, source, text_version, requested_ip, expires_at)
    select distinct on (c.id) c.id, c.email, r.source, r.text_version, r.ip::inet,
      now() + make_interval(days => ${policy.linkDays})
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      as r(customer_id bigint, source text, text_version text, ip text)
    join customers c on c.id = r.customer_id and c.email is not null and c.erased_at is null
    where coalesce((
        select k.granted from consents k where k.customer_id = c.id and k.purpose = 'marketing_email'
        order by k.at desc, k.id desc limit 1), false) = false
      and not exists (
        select 1 from opt_in_requests o
        where o.customer_id = c.id and o.confirmed_at is null and o.expires_at > now() and o.email = c.email)
    returning id`;
  return created.map((r) => r.id);
}

const MAC_BYTES = 16;

function mac(secret: string, id: number): Buffer {
  return createHmac('sha256', secret).update(`offerflow-opt-in:${id}`).digest().subarray(0, MAC_BYTES);
}

/** The token of a confirmation link: `<id>.<base64url mac>`. The expiry is the row's. */
export function optInToken(secret: string, id: number): string {
  return `${id}.${mac(secret, id).toString('base64url')}`;
}

/** The request id a confirmation token names, or null for anything forged. */
export function verifyOptInToken(secret: string, token: string): number | null {
  const match = /^(\d{1,15})\.([\w-]{22})$/.exec(token);
  if (!match) return null;
  const id = Number(match[1]);
  const given = Buffer.from(match[2]!, 'base64url');
  return given.length === MAC_BYTES && timingSafeEqual(given, mac(secret, id)) ? id : null;
}
