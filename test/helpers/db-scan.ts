import type { Sql } from '../../src/db/sql.js';

/**
 * Every text-like column of every table of the database that holds one of the needles (any
 * case): `table.column`. bytea (import file chunks) is read as escaped text, where an address
 * shows in clear too.
 */
export async function columnsMentioning(sql: Sql, needles: readonly string[]): Promise<string[]> {
  const columns = await sql<{ table_name: string; column_name: string; data_type: string }[]>`
    select c.table_name, c.column_name, c.data_type from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
      and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'inet', 'bytea')`;
  const patterns = needles.map((n) => `%${n.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
  const hits: string[] = [];
  for (const { table_name, column_name, data_type } of columns) {
    const column = sql(column_name);
    const asText = data_type === 'bytea' ? sql`encode(${column}, 'escape')` : sql`${column}::text`;
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from ${sql(table_name)} where ${asText} ilike any(${patterns}::text[])`;
    if (row!.n > 0) hits.push(`${table_name}.${column_name}`);
  }
  return hits;
}
