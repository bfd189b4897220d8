import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createSql, type Sql } from '../../src/db/sql.js';
import type { AppDeps, JobDispatcher } from '../../src/deps.js';
import { createApiKey } from '../../src/http/api-keys.js';
import type { App } from '../../src/http/env.js';
import { createRedis } from '../../src/queue/connection.js';
import { type BullDispatcher, createBullDispatcher } from '../../src/queue/dispatcher.js';
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from './private-services.js';

export interface PrivateStack {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  databaseUrl: string;
  config: Config;
  /** The test's own pool on the private cluster (it fails while the cluster is down). */
  sql: Sql;
  app: App;
  deps: AppDeps;
  queuePrefix: string;
  dispatcher: BullDispatcher;
  adminKey: string;
  request(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A PostgreSQL cluster and a Redis of the test's own, a migrated database on it, and the app
 * over them (driven with app.request): faults can be injected into these without touching the
 * services other test files share.
 */
export async function startPrivateStack(
  pgSettings: Record<string, string | number> = {},
): Promise<PrivateStack> {
  const pg = await startPrivatePostgres(pgSettings);
  const redis = await startPrivateRedis();
  const admin = createSql(pg.url(), { max: 1 });
  await admin`create database offerflow`;
  await admin.end({ timeout: 5 });
  const databaseUrl = pg.url('offerflow');
  const sql = createSql(databaseUrl, { max: 5, idleTimeout: 5, connectTimeout: 3 });
  await migrate(sql);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'silent',
  } as Record<string, string>);
  const queuePrefix = `fault_${randomBytes(4).toString('hex')}`;
  const redisClient = createRedis(redis.url);
  // The tests take Redis down on purpose.
  redisClient.on('error', () => {});
  const dispatcher = createBullDispatcher(redisClient, queuePrefix);
  const deps: AppDeps = {
    sql,
    config,
    logger: pino({ level: 'silent' }),
    redis: redisClient,
    jobs: dispatcher as JobDispatcher,
    metrics: new Registry(),
    clock: () => new Date(),
  };
  const app = createApp(deps);
  const { key: adminKey } = await createApiKey(sql, { name: 'faults', role: 'admin' });
  return {
    pg,
    redis,
    databaseUrl,
    config,
    sql,
    app,
    deps,
    queuePrefix,
    dispatcher,
    adminKey,
    request: async (method, path, body) =>
      app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    async close() {
      await dispatcher.close().catch(() => {});
      redisClient.disconnect();
      await sql.end({ timeout: 2 }).catch(() => {});
      await redis.kill().catch(() => {});
      await pg.remove();
    },
  };
}

/** Retries a probe that may fail while a service is down, until it returns something truthy. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
