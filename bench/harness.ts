import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createSql, type Sql } from '../src/db/sql.js';
import { createApiKey } from '../src/http/api-keys.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  /** value / baseline_value, oriented so that higher is better for Offerflow (1 = as fast as the baseline). */
  ratio: number;
  target?: number;
  notes?: Record<string, number | string>;
}

export interface Bench {
  name: string;
  run(): Promise<BenchResult[]>;
}

export function formatResult(r: BenchResult): string {
  const target = r.target !== undefined ? ` (target ≥ ${r.target})` : '';
  const notes = r.notes
    ? ` [${Object.entries(r.notes)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}]`
    : '';
  return `${r.name}: ${round(r.value)} ${r.unit}, ratio ${r.ratio.toFixed(2)} vs ${r.baseline} (${round(r.baseline_value)} ${r.unit})${target}${notes}`;
}

export const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

export async function writeResults(path: string, results: BenchResult[]): Promise<void> {
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** Times an async function once, in seconds. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/**
 * Runs fn against a freshly created and migrated database (`offerflow_bench_<tag>_<random>`,
 * a pool of `max` connections), then drops it. fn also gets the database's URL.
 */
export async function withScratchDatabase<T>(
  tag: string,
  max: number,
  fn: (sql: Sql, url: string) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const name = `offerflow_bench_${tag}_${randomBytes(4).toString('hex')}`;
  const admin = createSql(config.DATABASE_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(config.DATABASE_URL);
  url.pathname = `/${name}`;
  const sql = createSql(url.toString(), { max });
  try {
    await migrate(sql);
    return await fn(sql, url.toString());
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end({ timeout: 5 });
  }
}

/**
 * Serves the real API over HTTP (a node server on an ephemeral loopback port, logs silent) on
 * `sql`, with an integrator key, for fn; the server is closed after it.
 */
export async function withApiServer<T>(sql: Sql, fn: (base: string, key: string) => Promise<T>): Promise<T> {
  const config = { ...loadConfig(), LOG_LEVEL: 'silent' as const };
  const app = createApp({ sql, config, logger: pino({ level: 'silent' }), clock: () => new Date() });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const { key } = await createApiKey(sql, { name: 'bench', role: 'integrator' });
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, key);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
