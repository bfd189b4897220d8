import { serve } from '@hono/node-server';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './app.js';
import { type Config, loadConfig } from './config.js';
import { createSql } from './db/sql.js';
import type { AppDeps } from './deps.js';
import { registerDocs } from './http/docs.js';
import { startMetricsListener } from './http/metrics-listener.js';
import { createLogger } from './logger.js';
import { createRedis } from './queue/connection.js';
import { createBullDispatcher } from './queue/dispatcher.js';

export interface NodeRuntime {
  deps: AppDeps;
  close(): Promise<void>;
}

/** Builds the Node dependencies: a PostgreSQL pool, Redis, BullMQ queues, metrics, logs. */
export function createNodeRuntime(config: Config = loadConfig()): NodeRuntime {
  const sql = createSql(config.DATABASE_URL);
  const redis = createRedis(config.REDIS_URL);
  const dispatcher = createBullDispatcher(redis);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const deps: AppDeps = {
    sql,
    config,
    logger: createLogger(config.LOG_LEVEL),
    redis,
    jobs: dispatcher,
    metrics,
    clock: () => new Date(),
  };
  return {
    deps,
    async close() {
      await dispatcher.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/** Serves the API on PORT until SIGINT/SIGTERM. */
export async function startServer(
  config: Config = loadConfig(),
): Promise<{ close(): Promise<void>; port: number }> {
  const runtime = createNodeRuntime(config);
  const app = createApp(runtime.deps, { extraRoutes: registerDocs });
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: '0.0.0.0' });
  const metrics =
    config.METRICS_LISTEN && runtime.deps.metrics
      ? await startMetricsListener(runtime.deps.metrics, {
          listen: config.METRICS_LISTEN,
          token: config.METRICS_TOKEN,
        })
      : undefined;
  runtime.deps.logger.info(
    { port: config.PORT, url: config.PUBLIC_URL, metrics: config.METRICS_LISTEN ?? 'public port' },
    'offerflow serving',
  );
  return {
    port: config.PORT,
    async close() {
      await metrics?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.close();
    },
  };
}
