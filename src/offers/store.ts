import type { Db } from '../db/sql.js';

/** An `offers` row as postgres.js returns it. */
export interface OfferRow {
  id: number;
  name: string;
  title: string;
  text: string | null;
  image_url: string | null;
  url: string | null;
  code: string | null;
  category: string | null;
  eligibility: unknown;
  score: unknown;
  priority: number;
  valid_from: Date | null;
  valid_to: Date | null;
  cap_per_customer_count: number | null;
  cap_per_customer_days: number | null;
  global_cap: number | null;
  shown_count: number;
  exclude_if_bought_within_days: number | null;
  fallback: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The writable columns of an offer. */
export type OfferValues = Omit<OfferRow, 'id' | 'shown_count' | 'version' | 'created_at' | 'updated_at'>;

const rule = (db: Db, value: unknown) =>
  value === null || value === undefined ? null : db.json(value as Parameters<Db['json']>[0]);

const columns = (db: Db, v: OfferValues) => ({
  ...v,
  eligibility: rule(db, v.eligibility),
  score: rule(db, v.score),
});

// Creates an offer.
export async function insertOffer(db: Db, values: OfferValues): Promise<OfferRow> {
  const [row] = await db<OfferRow[]>`insert into offers ${db(columns(db, values))} returning *`;
  return row!;
}

// One live offer; `lock` for read-modify-write in a transaction.
export async function findOffer(db: Db, id: number, lock = false): Promise<OfferRow | undefined> {
  const [row] = lock
    ? await db<OfferRow[]>`select * from offers where id = ${id} and deleted_at is null for update`
    : await db<OfferRow[]>`select * from offers where id = ${id} and deleted_at is null`;
  return row;
}

// Replaces an offer's writable columns and bumps its version.
export async function updateOffer(db: Db, id: number, values: OfferValues): Promise<OfferRow> {
  const [row] = await db<OfferRow[]>`
    update offers set ${db(columns(db, values))}, version = version + 1, updated_at = now()
    where id = ${id} returning *`;
  return row!;
}

// Soft-deletes an offer: impressions and messages keep pointing at it.
export async function softDeleteOffer(db: Db, id: number): Promise<boolean> {
  const rows = await db`
    update offers set deleted_at = now(), version = version + 1, updated_at = now()
    where id = ${id} and deleted_at is null returning id`;
  return rows.length > 0;
}

// A keyset page of live offers in id order, optionally of one category.
export async function listOffers(
  db: Db,
  opts: { afterId: number; limit: number; category?: string | undefined },
): Promise<OfferRow[]> {
  return db<OfferRow[]>`
    select * from offers
    where deleted_at is null and id > ${opts.afterId}
      ${opts.category !== undefined ? db`and category = ${opts.category}` : db``}
    order by id limit ${opts.limit}`;
}

// The whole live catalogue, in id order (the order explain lists offers in).
export async function loadLiveOffers(db: Db): Promise<OfferRow[]> {
  return db<OfferRow[]>`select * from offers where deleted_at is null order by id`;
}

// Sensitive attributes of the registry and the consent purpose each needs.
export async function loadSensitiveAttributes(db: Db): Promise<Array<{ key: string; purpose: string }>> {
  return db<Array<{ key: string; purpose: string }>>`
    select key, purpose from attributes where sensitive order by key`;
}

// Per (customer, offer): impressions inside the offer's per-customer cap window ending at `now`.
export async function countRecentImpressions(
  db: Db,
  input: { customerIds: number[]; offerIds: number[]; days: number[]; now: Date },
): Promise<Array<{ customer_id: number; offer_id: number; n: number }>> {
  if (input.customerIds.length === 0 || input.offerIds.length === 0) return [];
  return db<Array<{ customer_id: number; offer_id: number; n: number }>>`
    select i.customer_id, i.offer_id, count(*)::int as n
    from unnest(${input.offerIds}::bigint[], ${input.days}::int[]) as c(offer_id, days)
    join offer_impressions i on i.offer_id = c.offer_id
    where i.customer_id = any(${input.customerIds}::bigint[])
      and i.at > ${input.now}::timestamptz - make_interval(days => c.days)
      and i.at <= ${input.now}
    group by 1, 2`;
}

// Records impressions once per (message, offer) and counts the new ones on their offers, atomically.
export async function insertImpressions(
  db: Db,
  input: {
    customerId: number;
    messageId: number;
    offerIds: number[];
    campaignId: number | null;
    triggerId: number | null;
    at: Date;
  },
): Promise<number[]> {
  const rows = await db<Array<{ id: number }>>`
    with ins as (
      insert into offer_impressions (offer_id, customer_id, message_id, campaign_id, trigger_id, at)
      select o, ${input.customerId}, ${input.messageId}, ${input.campaignId}, ${input.triggerId}, ${input.at}
      from unnest(${input.offerIds}::bigint[]) as o
      on conflict (message_id, offer_id) where message_id is not null do nothing
      returning offer_id
    )
    update offers set shown_count = shown_count + 1
    from ins where offers.id = ins.offer_id
    returning offers.id`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}
