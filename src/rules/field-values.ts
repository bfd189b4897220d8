import type { Db } from '../db/sql.js';
import type { ValueCount } from './fields.js';

/*
 * What the data holds, for the field catalogue's value suggestions: the most common values of a
 * field, each with how many live customers have it. Column names come from the allow-lists of
 * rules/customer-fields.ts, never from input.
 */

/** Categories bought, by how many customers bought in each (every category up to `limit`). */
export function selectCategoryCounts(sql: Db, limit: number) {
  return sql<ValueCount[]>`
    select p.category as value, count(distinct p.customer_id)::int as count
    from purchases p
    where p.category is not null and p.kind = 'purchase'
    group by p.category
    order by count desc, value
    limit ${limit}`;
}

/** The values of a text column of live customers, most common first. */
export function selectColumnCounts(sql: Db, column: string, limit: number) {
  return sql<ValueCount[]>`
    select ${sql(column)} as value, count(*)::int as count
    from customers
    where erased_at is null and ${sql(column)} is not null
    group by 1 order by 2 desc, 1 limit ${limit}`;
}

/** The values of a text[] column of live customers (each element counted once per customer). */
export function selectArrayColumnCounts(sql: Db, column: string, limit: number) {
  return sql<ValueCount[]>`
    select v as value, count(*)::int as count
    from customers, unnest(${sql(column)}) as v
    where erased_at is null
    group by 1 order by 2 desc, 1 limit ${limit}`;
}

/** The values of one key of a jsonb column (address.city, attributes.plan), most common first. */
export function selectJsonKeyCounts(sql: Db, column: 'address' | 'attributes', key: string, limit: number) {
  return sql<ValueCount[]>`
    select ${sql(column)} ->> ${key} as value, count(*)::int as count
    from customers
    where erased_at is null and ${sql(column)} ->> ${key} is not null
    group by 1 order by 2 desc, 1 limit ${limit}`;
}

/** Declared attributes (GET /v1/attributes' registry), for their types and consent purposes. */
export function selectDeclaredAttributes(sql: Db) {
  return sql<
    { key: string; type: string; description: string | null; sensitive: boolean; purpose: string | null }[]
  >`select key, type, description, sensitive, purpose from attributes order by key`;
}
