import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql } from '../db/sql.js';
import { startServer } from '../server.js';
import { startServingProcesses } from './serve-processes.js';
import { UsageError } from './usage-error.js';

/** The most processes `--processes` accepts (each holds a PostgreSQL pool and a Redis connection). */
const MAX_PROCESSES = 64;

/** `--processes N` (or `SERVE_PROCESSES`): a whole number from 1 to 64, or `auto` for one per core. */
export function parseProcesses(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PROCESSES) {
    throw new UsageError(
      `--processes must be a whole number from 1 to ${MAX_PROCESSES}, or auto (got "${value}")`,
    );
  }
  return n;
}

const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

/**
 * `offerflow serve [--processes N]`: migrates, then serves the API, tracking and UI on PORT, in
 * this process or, with N > 1, in N worker processes sharing the port (serve-processes.ts).
 */
export async function serve(args: string[]): Promise<number> {
  // Listened for first: a SIGTERM during start-up (a worker is told to stop while it loads)
  // stops the server once it is up, instead of being swallowed.
  const signalled = untilSignal();
  const { values } = parseArgs({ args, options: { processes: { type: 'string' } } });
  const config = loadConfig();
  if (cluster.isWorker) {
    // A worker of the primary below: it migrated already and prints nothing.
    const server = await startServer(config);
    await signalled;
    await server.close();
    // The IPC channel to the primary would keep this process alive after everything closed.
    cluster.worker?.disconnect();
    return 0;
  }
  const processes = parseProcesses(values.processes ?? process.env.SERVE_PROCESSES);
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await migrate(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
  if (processes === 1) {
    const server = await startServer(config);
    process.stdout.write(
      `Offerflow is serving on ${config.PUBLIC_URL} (API docs at ${config.PUBLIC_URL}/docs)\n`,
    );
    await signalled;
    await server.close();
    return 0;
  }
  const running = await startServingProcesses(config, processes, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(
    `Offerflow is serving on ${config.PUBLIC_URL} with ${processes} processes (API docs at ${config.PUBLIC_URL}/docs)\n`,
  );
  await signalled;
  await running.stop();
  return 0;
}
