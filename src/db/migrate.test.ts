import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, urlFor } from '../../test/helpers/test-db.js';
import { migrate, readMigrations } from './migrate.js';
import { createSql, type Sql } from './sql.js';

const name = `offerflow_t_${randomBytes(6).toString('hex')}`;
let admin: Sql;

beforeAll(async () => {
  admin = createSql(ADMIN_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
});
afterAll(async () => {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

describe('migrate', () => {
  it('applies each migration once, even when two processes start at once', async () => {
    const a = createSql(urlFor(name), { max: 2 });
    const b = createSql(urlFor(name), { max: 2 });
    try {
      const [first, second] = await Promise.all([migrate(a), migrate(b)]);
      const total = (await readMigrations()).length;
      expect(first.applied.length + second.applied.length).toBe(total);
      expect(first.current).toBe(total);
      const rows = await a`select version from schema_migrations order by version`;
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect((await migrate(a)).applied).toEqual([]);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('rejects gaps in the numbering', async () => {
    const dir = await dirWith({ '0001_a.sql': 'select 1;', '0003_c.sql': 'select 1;' });
    await expect(readMigrations(dir)).rejects.toThrow(/expected number 2/);
  });

  it('refuses a migration edited after it was applied, and rolls back a failing one whole', async () => {
    const db = `offerflow_t_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database "${db}"`);
    const sql = createSql(urlFor(db), { max: 1 });
    try {
      await migrate(sql, await dirWith({ '0001_a.sql': 'create table a (x int);' }));
      await expect(migrate(sql, await dirWith({ '0001_a.sql': 'create table a (y int);' }))).rejects.toThrow(
        /changed after it was applied/,
      );
      const failing = await dirWith({
        '0001_a.sql': 'create table a (x int);',
        '0002_b.sql': 'create table b (x int); select * from nowhere;',
      });
      await expect(migrate(sql, failing)).rejects.toThrow(/nowhere/);
      const [b] = await sql`select to_regclass('b') as t`;
      expect(b?.t).toBeNull();
      const versions = await sql`select version from schema_migrations`;
      expect(versions.map((r) => r.version)).toEqual([1]);
    } finally {
      await sql.end();
      await admin.unsafe(`drop database if exists "${db}" with (force)`);
    }
  });
});
