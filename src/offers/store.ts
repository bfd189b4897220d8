import type { Db } from '../db/sql.js';
import type { OfferProduct } from './schema.js';

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
  holdout_percent: number;
  /** The product source of an offer about one of the customer's recommended products. */
  product: OfferProduct | null;
  /** Title, text and code wording per locale. */
  translations: Record<string, { title: string; text?: string; code_label?: string }>;
  /** Whether the offer draws unique codes from a pool, and how many are free. */
  code_pool: boolean;
  codes_free: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** The writable columns of an offer. */
export type OfferValues = Omit<
  OfferRow,
  'id' | 'shown_count' | 'code_pool' | 'codes_free' | 'version' | 'created_at' | 'updated_at'
>;

// An offer's columns. Its shown_count is the rolled-up count plus the impressions not folded in
// yet (rollUpShownCounts), so that a send never updates the offer row itself.
const OFFER = (db: Db) =>
  db.unsafe(`
  offers.id, offers.name, offers.title, offers.text, offers.image_url, offers.url, offers.code,
  offers.category, offers.eligibility, offers.score, offers.priority, offers.valid_from,
  offers.valid_to, offers.cap_per_customer_count, offers.cap_per_customer_days, offers.global_cap,
  offers.shown_count + (select count(*)::int from offer_impressions i
    where i.offer_id = offers.id and not i.counted) as shown_count,
  offers.exclude_if_bought_within_days, offers.fallback, offers.holdout_percent::float8 as holdout_percent,
  offers.translations, offers.product,
  exists (select 1 from offer_codes k where k.offer_id = offers.id) as code_pool,
  (select count(*)::int from offer_codes k where k.offer_id = offers.id and k.message_id is null) as codes_free,
  offers.version, offers.created_at,
  offers.updated_at`);

const rule = (db: Db, value: unknown) =>
  value === null || value === undefined ? null : db.json(value as Parameters<Db['json']>[0]);

const columns = (db: Db, v: OfferValues) => ({
  ...v,
  eligibility: rule(db, v.eligibility),
  score: rule(db, v.score),
  translations: db.json(v.translations as Parameters<Db['json']>[0]),
  product: v.product === null ? null : db.json(v.product as Parameters<Db['json']>[0]),
});

// Creates an offer.
export async function insertOffer(db: Db, values: OfferValues): Promise<OfferRow> {
  const [row] = await db<OfferRow[]>`insert into offers ${db(columns(db, values))} returning ${OFFER(db)}`;
  return row!;
}

// One live offer; `lock` for read-modify-write in a transaction.
export async function findOffer(db: Db, id: number, lock = false): Promise<OfferRow | undefined> {
  const [row] = lock
    ? await db<OfferRow[]>`select ${OFFER(db)} from offers where id = ${id} and deleted_at is null for update`
    : await db<OfferRow[]>`select ${OFFER(db)} from offers where id = ${id} and deleted_at is null`;
  return row;
}

// Replaces an offer's writable columns and bumps its version.
export async function updateOffer(db: Db, id: number, values: OfferValues): Promise<OfferRow> {
  const [row] = await db<OfferRow[]>`
    update offers set ${db(columns(db, values))}, version = version + 1, updated_at = now()
    where id = ${id} returning ${OFFER(db)}`;
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
    select ${OFFER(db)} from offers
    where deleted_at is null and id > ${opts.afterId}
      ${opts.category !== undefined ? db`and category = ${opts.category}` : db``}
    order by id limit ${opts.limit}`;
}

// The whole live catalogue, in id order (the order explain lists offers in).
export async function loadLiveOffers(db: Db): Promise<OfferRow[]> {
  return db<OfferRow[]>`select ${OFFER(db)} from offers where deleted_at is null order by id`;
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

// Records impressions once per (message, offer); the offers' counts see them at once (OFFER).
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
  const rows = await db<Array<{ offer_id: number }>>`
    insert into offer_impressions (offer_id, customer_id, message_id, campaign_id, trigger_id, at)
    select o, ${input.customerId}, ${input.messageId}, ${input.campaignId}, ${input.triggerId}, ${input.at}
    from unnest(${input.offerIds}::bigint[]) as o
    on conflict (message_id, offer_id) where message_id is not null do nothing
    returning offer_id`;
  return rows.map((r) => r.offer_id).sort((a, b) => a - b);
}

// Folds uncounted impressions into offers.shown_count in one statement. The advisory lock lets one roll-up run at a time (others return 0: readers add the
// uncounted rows anyway, so skipping is harmless). Returns how many impressions were folded in.
export async function rollUpImpressionCounts(db: Db): Promise<number> {
  const [row] = await db<Array<{ n: number }>>`
    with go as (select pg_try_advisory_xact_lock(hashtext('offerflow:shown_count')) as locked),
    folded as (
      update offer_impressions set counted = true
      where not counted and (select locked from go)
      returning offer_id
    ),
    per_offer as (select offer_id, count(*)::int as n from folded group by offer_id),
    bumped as (
      update offers set shown_count = offers.shown_count + p.n
      from per_offer p where offers.id = p.offer_id
      returning p.n
    )
    select coalesce(sum(n), 0)::int as n from bumped`;
  return row?.n ?? 0;
}
