import type { Db, Sql } from './sql.js';

/**
 * Monthly range partitions of an append-only table partitioned by a timestamptz column
 * (contact_events by `at`, see migrations/0023). Partitions are named TABLE_pYYYYMM and cover
 * one UTC month; TABLE_default takes whatever has no month yet, so an insert never fails.
 */

/** Tables whose monthly partitions this module may manage (identifiers are never user input). */
export const PARTITIONED_TABLES = ['contact_events', 'events'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export interface MonthPartition {
  name: string;
  /** YYYY-MM of the month it holds. */
  month: string;
  from: Date;
  to: Date;
  /** The planner's estimate (pg_class.reltuples); -1 before the first ANALYZE. */
  estimated_rows: number;
  bytes: number;
}

const NAME = /_p(\d{4})(\d{2})$/;

const monthStart = (year: number, month0: number) => new Date(Date.UTC(year, month0, 1));
const monthLabel = (d: Date) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
const partitionName = (table: string, d: Date) =>
  `${table}_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

/** Parses YYYY-MM into the first instant of that UTC month; null when it is not a month. */
export function parseMonth(value: string): Date | null {
  const m = /^(\d{4})-(\d{2})$/.exec(value);
  if (!m) return null;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return null;
  return monthStart(Number(m[1]), month - 1);
}

/** The month partitions of `table`, oldest first (the default partition is not listed). */
export async function listMonthlyPartitions(sql: Db, table: PartitionedTable): Promise<MonthPartition[]> {
  const rows = await sql<{ name: string; estimated_rows: number; bytes: string }[]>`
    -- Partitions attached to the table, with their size.
    select c.relname as name, c.reltuples::float8 as estimated_rows, pg_total_relation_size(c.oid)::text as bytes
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    where p.relname = ${table} and p.relnamespace = current_schema()::regnamespace
    order by c.relname`;
  const partitions: MonthPartition[] = [];
  for (const row of rows) {
    const m = NAME.exec(row.name);
    if (!m) continue;
    const from = monthStart(Number(m[1]), Number(m[2]) - 1);
    partitions.push({
      name: row.name,
      month: monthLabel(from),
      from,
      to: monthStart(from.getUTCFullYear(), from.getUTCMonth() + 1),
      estimated_rows: row.estimated_rows,
      bytes: Number(row.bytes),
    });
  }
  return partitions;
}

/**
 * Makes sure the partitions of the current month and `monthsAhead` months after it exist.
 * Rows of such a month already sitting in the default partition move into the new partition in
 * the same transaction (PostgreSQL refuses to attach a range the default partition holds).
 * Idempotent, and safe against a concurrent run: each month is created under a lock on the
 * parent. Returns the names of the partitions created.
 */
export async function ensureMonthlyPartitions(
  sql: Sql,
  table: PartitionedTable,
  monthsAhead: number,
  now: Date = new Date(),
): Promise<string[]> {
  const existing = new Set((await listMonthlyPartitions(sql, table)).map((p) => p.name));
  const created: string[] = [];
  for (let i = 0; i <= monthsAhead; i++) {
    const from = monthStart(now.getUTCFullYear(), now.getUTCMonth() + i);
    const to = monthStart(now.getUTCFullYear(), now.getUTCMonth() + i + 1);
    const name = partitionName(table, from);
    if (existing.has(name)) continue;
    const made = await sql.begin(async (tx) => {
      await tx`lock table ${tx(table)} in share row exclusive mode`;
      const [there] =
        await tx`select 1 from pg_class where relname = ${name} and relnamespace = current_schema()::regnamespace`;
      if (there) return false;
      const def = `${table}_default`;
      // Rows of this month in the default partition go to a temporary table, then into the new one.
      const [{ n } = { n: 0 }] = await tx<{ n: number }[]>`
        select count(*)::int as n from ${tx(def)} where at >= ${from} and at < ${to}`;
      if (n > 0) {
        await tx`create temporary table partition_rows_moving on commit drop as
          with moved as (delete from ${tx(def)} where at >= ${from} and at < ${to} returning *)
          select * from moved`;
      }
      await tx.unsafe(
        `create table "${name}" partition of "${table}" for values from ('${from.toISOString()}') to ('${to.toISOString()}')`,
      );
      if (n > 0) {
        // Moved rows already hold their client keys (contact_events_claim_key).
        await tx`select set_config('offerflow.moving_partition_rows', 'on', true)`;
        await tx`insert into ${tx(name)} select * from partition_rows_moving`;
        await tx`select set_config('offerflow.moving_partition_rows', 'off', true)`;
      }
      return true;
    });
    if (made) created.push(name);
  }
  return created;
}

/**
 * Detaches every month partition that ends on or before `before` (the first instant of a month):
 * the rows leave the table (timeline, reports and erasure no longer see them) but stay in a
 * standalone table of the same name, to be archived (pg_dump -t NAME) and dropped. Returns the
 * partitions detached.
 */
export async function detachMonthlyPartitionsBefore(
  sql: Sql,
  table: PartitionedTable,
  before: Date,
): Promise<MonthPartition[]> {
  const old = (await listMonthlyPartitions(sql, table)).filter((p) => p.to.getTime() <= before.getTime());
  for (const p of old) {
    await sql`alter table ${sql(table)} detach partition ${sql(p.name)}`;
  }
  return old;
}
