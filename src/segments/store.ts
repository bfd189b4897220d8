import type { Db } from '../db/sql.js';

export interface SegmentRow {
  id: number;
  name: string;
  description: string | null;
  rule: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface CustomerSummaryRow {
  id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  locale: string | null;
}

/** Creates a segment. */
export async function insertSegment(
  db: Db,
  input: { name: string; description: string | null; rule: unknown },
) {
  const [row] = await db<SegmentRow[]>`
    insert into segments (name, description, rule)
    values (${input.name}, ${input.description}, ${db.json(input.rule as never)})
    returning id, name, description, rule, version, created_at, updated_at`;
  return row as SegmentRow;
}

/** A live (not deleted) segment. */
export async function selectSegment(db: Db, id: number): Promise<SegmentRow | undefined> {
  const [row] = await db<SegmentRow[]>`
    select id, name, description, rule, version, created_at, updated_at
    from segments where id = ${id} and deleted_at is null`;
  return row;
}

/** Live segments in id order after a keyset position. */
export function listSegmentRows(db: Db, afterId: number, limit: number) {
  return db<SegmentRow[]>`
    select id, name, description, rule, version, created_at, updated_at
    from segments where deleted_at is null and id > ${afterId}
    order by id limit ${limit}`;
}

/** Changes the given fields; a new rule bumps the version (compiled rules are cached per version). */
export async function updateSegment(
  db: Db,
  id: number,
  patch: { name?: string; description?: string | null; rule?: unknown },
): Promise<SegmentRow | undefined> {
  const [row] = await db<SegmentRow[]>`
    update segments set
      name = coalesce(${patch.name ?? null}, name),
      description = ${patch.description === undefined ? db`description` : patch.description},
      rule = ${patch.rule === undefined ? db`rule` : db.json(patch.rule as never)},
      version = version + ${patch.rule === undefined ? 0 : 1},
      updated_at = now()
    where id = ${id} and deleted_at is null
    returning id, name, description, rule, version, created_at, updated_at`;
  return row;
}

/** Soft-deletes a segment (campaigns keep pointing at it). */
export async function softDeleteSegment(db: Db, id: number): Promise<boolean> {
  const rows =
    await db`update segments set deleted_at = now() where id = ${id} and deleted_at is null returning id`;
  return rows.length > 0;
}

/**
 * A simple random sample of live customers: the first `size` in the order of hashint8(id) (the
 * index customers_sample_order_idx), with each one's hash. The same sample on every read while
 * customers stay the same; independent of the id order, so not biased to the oldest customers.
 */
export function selectSampleCustomers(db: Db, size: number) {
  return db<{ id: number; hash: number }[]>`
    select id, hashint8(id) as hash from customers where erased_at is null
    order by hashint8(id), id limit ${size}`;
}

/** How many live customers there are (a scan of them: for a base known to be small). */
export async function countLiveCustomers(db: Db): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from customers where erased_at is null`;
  return row?.n ?? 0;
}

/** Live (not erased) customer ids after a keyset position: the stream path's pages. */
export async function selectLiveCustomerIds(db: Db, afterId: number, limit: number): Promise<number[]> {
  const rows = await db<{ id: number }[]>`
    select id from customers where erased_at is null and id > ${afterId} order by id limit ${limit}`;
  return rows.map((r) => r.id);
}

/** Short customer cards for previews and audience pages, in id order. */
export function selectCustomerSummaries(db: Db, ids: number[]) {
  return db<CustomerSummaryRow[]>`
    select id, external_id, email, first_name, last_name, locale
    from customers where id = any(${ids}::bigint[]) order by id`;
}
