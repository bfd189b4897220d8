import { randomBytes } from 'node:crypto';
import type { Db } from '../db/sql.js';

/**
 * This install's id, as every Message-ID carries it. Made at first migration; when the database
 * turns out to be a copy (its oid is not the one the id was made in: a template copy, a dump
 * restored onto staging), the copy gets a new id, so it never mints the ids of the original.
 * Concurrent callers agree: the update is conditional, and the loser reads the winner's id.
 */
export async function installationId(sql: Db): Promise<string> {
  const fresh = randomBytes(10).toString('hex');
  await sql`
    update installation set id = ${fresh}, database_oid = d.oid
    from pg_database d
    where d.datname = current_database() and installation.database_oid <> d.oid`;
  const [row] = await sql<{ id: string }[]>`select id from installation`;
  if (!row) throw new Error('the installation row is missing: run offerflow migrate');
  return row.id;
}

/** installationId, fetched once per process (it changes only when the database is copied). */
export function cachedInstallationId(sql: Db): () => Promise<string> {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= installationId(sql).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
