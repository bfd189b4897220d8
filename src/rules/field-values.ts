import type { Db } from '../db/sql.js';
import type { ValueCount } from './fields.js';

/*
 * What the data holds, for the field catalogue's value suggestions: the most common values of a
 * field, each with how many live customers have it. Column names come from the allow-lists of
 * rules/customer-fields.ts, never from input.
 *
 * Counting every row is a full scan and a group-by: at millions of customers or purchase lines
 * that takes seconds, on every open of the rule builder and every save's warnings. So a table
 * larger than `sampleRows` (by the planner's estimate, pg_class.reltuples) is read through
 * `TABLESAMPLE SYSTEM` at the share of its pages that holds about `sampleRows` rows (repeatable,
 * so two reads of unchanged data agree), counts are scaled back up and flagged `estimated`, and
 * the list is never called complete (a rare value may be missing from the sample). A table
 * below it, or never analysed, is counted exactly, as before.
 */

/** About how many rows a sampled count reads. */
export const SAMPLE_ROWS = 50_000;

/** The sampled share of a table, in percent (100: every row, counted exactly). */
function samplePercent(sql: Db, table: 'customers' | 'purchases', sampleRows: number) {
  return sql`(select least(100, 100.0 * ${sampleRows}::float8 / greatest(reltuples, 1))::float8
    from pg_class where oid = ${table}::regclass)`;
}

type CountRow = { value: string; count: number; estimated: boolean };

function values(rows: CountRow[]): ValueCount[] {
  return rows.map((r) =>
    r.estimated ? { value: r.value, count: r.count, estimated: true } : { value: r.value, count: r.count },
  );
}

/** Whether `list` (fetched with `limit`) holds every value there is: short of the limit, and counted exactly. */
export function isComplete(list: ValueCount[], limit: number): boolean {
  return list.length < limit && !list.some((v) => v.estimated);
}

/** Categories bought, by how many customers bought in each (every category up to `limit`). */
export async function selectCategoryCounts(sql: Db, limit: number, sampleRows = SAMPLE_ROWS) {
  const pct = samplePercent(sql, 'purchases', sampleRows);
  return values(
    await sql<CountRow[]>`
    select p.category as value, round(count(distinct p.customer_id) * 100 / ${pct})::int as count,
      ${pct} < 100 as estimated
    from purchases p tablesample system (${pct}) repeatable (0)
    where p.category is not null and p.kind = 'purchase'
    group by p.category
    order by count desc, value
    limit ${limit}`,
  );
}

/** The values of a text column of live customers, most common first. */
export async function selectColumnCounts(sql: Db, column: string, limit: number, sampleRows = SAMPLE_ROWS) {
  const pct = samplePercent(sql, 'customers', sampleRows);
  return values(
    await sql<CountRow[]>`
    select ${sql(column)} as value, round(count(*) * 100 / ${pct})::int as count, ${pct} < 100 as estimated
    from customers tablesample system (${pct}) repeatable (0)
    where erased_at is null and ${sql(column)} is not null
    group by 1 order by 2 desc, 1 limit ${limit}`,
  );
}

/** The values of a text[] column of live customers (each element counted once per customer). */
export async function selectArrayColumnCounts(
  sql: Db,
  column: string,
  limit: number,
  sampleRows = SAMPLE_ROWS,
) {
  const pct = samplePercent(sql, 'customers', sampleRows);
  return values(
    await sql<CountRow[]>`
    select v as value, round(count(*) * 100 / ${pct})::int as count, ${pct} < 100 as estimated
    from customers tablesample system (${pct}) repeatable (0), unnest(${sql(column)}) as v
    where erased_at is null
    group by 1 order by 2 desc, 1 limit ${limit}`,
  );
}

/** The values of one key of a jsonb column (address.city, attributes.plan), most common first. */
export async function selectJsonKeyCounts(
  sql: Db,
  column: 'address' | 'attributes',
  key: string,
  limit: number,
  sampleRows = SAMPLE_ROWS,
) {
  const pct = samplePercent(sql, 'customers', sampleRows);
  return values(
    await sql<CountRow[]>`
    select ${sql(column)} ->> ${key} as value, round(count(*) * 100 / ${pct})::int as count,
      ${pct} < 100 as estimated
    from customers tablesample system (${pct}) repeatable (0)
    where erased_at is null and ${sql(column)} ->> ${key} is not null
    group by 1 order by 2 desc, 1 limit ${limit}`,
  );
}

/** Declared attributes (GET /v1/attributes' registry), for their types and consent purposes. */
export function selectDeclaredAttributes(sql: Db) {
  return sql<
    { key: string; type: string; description: string | null; sensitive: boolean; purpose: string | null }[]
  >`select key, type, description, sensitive, purpose from attributes order by key`;
}
