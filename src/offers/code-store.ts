import type { Db } from '../db/sql.js';

export interface PoolCounts {
  total: number;
  claimed: number;
  redeemed: number;
  available: number;
  low_at: number | null;
}

/** Adds codes to an offer's pool; codes already in it are skipped. Returns how many were new. */
export async function insertCodes(db: Db, offerId: number, codes: string[]): Promise<number> {
  if (codes.length === 0) return 0;
  const rows = await db`
    insert into offer_codes (offer_id, code)
    select ${offerId}, c from unnest(${codes}::text[]) with ordinality as u(c, n) order by n
    on conflict (offer_id, code) do nothing
    returning id`;
  return rows.length;
}

/** Sets the level under which the pool warns (null: the default, a tenth of the codes). */
export async function setLowAt(db: Db, offerId: number, lowAt: number | null): Promise<void> {
  await db`update offers set codes_low_at = ${lowAt} where id = ${offerId}`;
}

/** An offer's pool: codes in all, claimed by a message, redeemed by a purchase, still free. */
export async function poolCounts(db: Db, offerId: number): Promise<PoolCounts> {
  const [row] = await db<PoolCounts[]>`
    select count(c.id)::int as total, count(c.message_id)::int as claimed,
      count(c.redeemed_purchase_id)::int as redeemed,
      (count(c.id) - count(c.message_id))::int as available,
      (select codes_low_at from offers where id = ${offerId}) as low_at
    from offer_codes c where c.offer_id = ${offerId}`;
  return row!;
}

/**
 * The codes of a message for its pooled offers, in one statement: for each offer the code it
 * already holds (a retried send keeps its code), else the first free one, taken with SKIP
 * LOCKED so that concurrent senders never wait on or take the same row. An offer whose pool is
 * empty is absent from the map. Two claims for the same message at once: the unique
 * (message_id, offer_id) index refuses the second, which then reads the first's codes.
 */
export async function claimCodes(
  db: Db,
  input: { messageId: number; offerIds: readonly number[]; customerId: number },
): Promise<Map<number, string>> {
  if (input.offerIds.length === 0) return new Map();
  const offerIds = [...new Set(input.offerIds)];
  for (let attempt = 0; ; attempt++) {
    try {
      const rows = await db<{ offer_id: number; code: string }[]>`
        with held as (
          select offer_id, code from offer_codes
          where message_id = ${input.messageId} and offer_id = any(${offerIds}::bigint[])
        ), free as (
          select f.id from unnest(${offerIds}::bigint[]) as w(offer_id)
          cross join lateral (
            select id from offer_codes
            where offer_id = w.offer_id and message_id is null
              and not exists (select 1 from held where held.offer_id = w.offer_id)
            order by id limit 1
            for update skip locked
          ) f
        ), claimed as (
          update offer_codes c set message_id = ${input.messageId}, customer_id = ${input.customerId},
            claimed_at = now()
          from free where c.id = free.id
          returning c.offer_id, c.code
        )
        select offer_id, code from held union all select offer_id, code from claimed`;
      return new Map(rows.map((r) => [r.offer_id, r.code]));
    } catch (error) {
      if ((error as { code?: string }).code !== '23505' || attempt >= 2) throw error;
    }
  }
}

/** The code of a message for one offer (see claimCodes); null when the pool is empty. */
export async function claimCode(
  db: Db,
  input: { messageId: number; offerId: number; customerId: number },
): Promise<string | null> {
  const codes = await claimCodes(db, { ...input, offerIds: [input.offerId] });
  return codes.get(input.offerId) ?? null;
}
