import { loadConfig } from '../config.js';
import { migrate as runMigrations } from '../db/migrate.js';
import { createSql } from '../db/sql.js';

export async function migrate(_args: string[]): Promise<number> {
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    const result = await runMigrations(sql);
    for (const name of result.applied) process.stdout.write(`applied ${name}\n`);
    process.stdout.write(`database at migration ${result.current}\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
