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
 * The code of a message for an offer: the one it already holds (a retried send keeps its code),
 * else the first free one, taken with SKIP LOCKED so that concurrent senders never wait on or
 * take the same row. Null when the pool is empty. Two claims for the same message at once: the
 * unique (message_id, offer_id) index refuses the second, which then reads the first's code.
 */
export async function claimCode(
  db: Db,
  input: { messageId: number; offerId: number; customerId: number },
): Promise<string | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await db<{ code: string }[]>`
        with held as (
          select code from offer_codes where message_id = ${input.messageId} and offer_id = ${input.offerId}
        ), free as (
          select id from offer_codes
          where offer_id = ${input.offerId} and message_id is null and not exists (select 1 from held)
          order by id limit 1
          for update skip locked
        ), claimed as (
          update offer_codes c set message_id = ${input.messageId}, customer_id = ${input.customerId},
            claimed_at = now()
          from free where c.id = free.id
          returning c.code
        )
        select code from held union all select code from claimed`;
      return row?.code ?? null;
    } catch (error) {
      if ((error as { code?: string }).code !== '23505' || attempt >= 2) throw error;
    }
  }
}
