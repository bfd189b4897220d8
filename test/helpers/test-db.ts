import { createHash, randomBytes } from 'node:crypto';
import { readMigrations } from '../../src/db/migrate.js';
import { createSql, type Sql } from '../../src/db/sql.js';

export const ADMIN_URL =
  process.env.DATABASE_URL || 'postgres://offerflow:offerflow@127.0.0.1:5432/offerflow';

export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The template database's name changes whenever a migration changes, so it is rebuilt then. */
export async function templateName(): Promise<string> {
  const migrations = await readMigrations();
  const hash = createHash('sha256');
  for (const m of migrations) hash.update(m.checksum);
  return `offerflow_tpl_${hash.digest('hex').slice(0, 12)}`;
}

export interface TestDatabase {
  sql: Sql;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, copied from the template in milliseconds. */
export async function createTestDatabase(options: { max?: number } = {}): Promise<TestDatabase> {
  const template = await templateName();
  const name = `offerflow_t_${randomBytes(6).toString('hex')}`;
  const admin = createSql(ADMIN_URL, { max: 1 });
  try {
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = urlFor(name);
  const sql = createSql(url, { max: options.max ?? 5, idleTimeout: 2 });
  return {
    sql,
    url,
    name,
    async drop() {
      await sql.end({ timeout: 5 });
      const admin2 = createSql(ADMIN_URL, { max: 1 });
      try {
        await admin2.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin2.end({ timeout: 5 });
      }
    },
  };
}
