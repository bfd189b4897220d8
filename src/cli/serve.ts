import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql } from '../db/sql.js';
import { startServer } from '../server.js';

export async function serve(_args: string[]): Promise<number> {
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await migrate(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const server = await startServer(config);
  process.stdout.write(
    `Offerflow is serving on ${config.PUBLIC_URL} (API docs at ${config.PUBLIC_URL}/docs)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
