import { migrate } from '../../src/db/migrate.js';
import { createSql } from '../../src/db/sql.js';
import { ensureLocalServices } from '../../src/dev/local-services.js';
import { ADMIN_URL, templateName, urlFor } from './test-db.js';

/** Starts PostgreSQL and Redis when down, and builds the migrated template database once per run. */
export default async function setup(): Promise<void> {
  await ensureLocalServices();
  const template = await templateName();
  const admin = createSql(ADMIN_URL, { max: 1 });
  try {
    // Several test runs may start at once (e.g. two terminals): one builds, the others wait.
    await admin`select pg_advisory_lock(7461234002)`;
    // Old test databases from interrupted runs and stale templates are dropped. A template's
    // age is when a run last used it (its comment), not when it was built: runs from other
    // checkouts with other migrations keep theirs while they use them.
    const stale = await admin<{ datname: string }[]>`
      select datname from pg_database
      where datname like 'offerflow_t%' and datname <> ${template}
        and coalesce(
          (select to_timestamp(nullif(substring(d.description from '^last-used (\d+)$'), '')::bigint)
             from pg_shdescription d where d.objoid = pg_database.oid),
          (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification
        ) < now() - interval '2 hours'`;
    for (const { datname } of stale) {
      await admin.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
    }
    const [exists] = await admin`select 1 from pg_database where datname = ${template}`;
    if (!exists) {
      const building = `${template}_build`;
      await admin.unsafe(`drop database if exists "${building}" with (force)`);
      await admin.unsafe(`create database "${building}"`);
      const sql = createSql(urlFor(building), { max: 1 });
      try {
        await migrate(sql);
      } finally {
        await sql.end({ timeout: 5 });
      }
      await admin.unsafe(`alter database "${building}" rename to "${template}"`);
    }
    const now = Math.floor(Date.now() / 1000);
    await admin.unsafe(`comment on database "${template}" is 'last-used ${now}'`);
  } finally {
    await admin`select pg_advisory_unlock(7461234002)`.catch(() => {});
    await admin.end({ timeout: 5 });
  }
}
