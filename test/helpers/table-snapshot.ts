import type { Sql } from '../../src/db/sql.js';

/**
 * A fingerprint of every table's content (an md5 per table), to show that a refused request
 * wrote nothing. api_keys.last_used_at moves when a key is used, which is not a write by the
 * request, so that table is fingerprinted without it.
 */
export async function tableSnapshot(sql: Sql): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }[]>`
    select tablename as name from pg_tables where schemaname = 'public' order by tablename`;
  const query = tables
    .map(({ name }) => {
      const row = name === 'api_keys' ? '(t.id, t.name, t.role, t.hash, t.revoked_at)' : 't';
      return `select '${name}' as name, md5(coalesce(string_agg(${row}::text, ',' order by ${row}::text), '')) as hash from "${name}" t`;
    })
    .join(' union all ');
  const rows = await sql.unsafe<{ name: string; hash: string }[]>(query);
  return Object.fromEntries(rows.map((r) => [r.name, r.hash]));
}
