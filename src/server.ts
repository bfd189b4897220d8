import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './app.js';
import { type Config, loadConfig } from './config.js';
import { createSql } from './db/sql.js';
import type { AppDeps } from './deps.js';
import { createAuthFailures } from './http/auth-failures.js';
import { processChannel, shareAuthFailures } from './http/auth-failures-shared.js';
import { registerDocs } from './http/docs.js';
import { startMetricsListener } from './http/metrics-listener.js';
import { createSnsClient } from './inbound/webhooks/sns.js';
import { createLogger } from './logger.js';
import { createRedis } from './queue/connection.js';
import { raceDeadline, TIMED_OUT, withDeadline, withEnqueueDeadline } from './queue/deadline.js';
import { createBullDispatcher } from './queue/dispatcher.js';
import { flushTrackingEvents } from './tracking/event-buffer.js';
import { EventSpool } from './tracking/event-spool.js';
import { tracker } from './tracking/track.js';

export interface NodeRuntime {
  deps: AppDeps;
  close(): Promise<void>;
}

/** Builds the Node dependencies: a PostgreSQL pool, Redis, BullMQ queues, metrics, logs. */
export function createNodeRuntime(
  config: Config = loadConfig(),
  options: { trackingSpool?: EventSpool } = {},
): NodeRuntime {
  // A request must not wait long for a connection PostgreSQL will not give: it answers 503.
  const sql = createSql(config.DATABASE_URL, { connectTimeout: 3, maxBackoffSeconds: 0.5 });
  const redis = createRedis(config.REDIS_URL);
  const dispatcher = createBullDispatcher(redis);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const logger = createLogger(config.LOG_LEVEL);
  // ioredis reports every failed reconnection; one line per 10 s is enough (and /healthz says it).
  let lastRedisError = 0;
  redis.on('error', (error: Error) => {
    if (Date.now() - lastRedisError < 10_000) return;
    lastRedisError = Date.now();
    logger.warn({ err: error.message }, 'redis unavailable');
  });
  const deps: AppDeps = {
    sql,
    config,
    logger,
    redis,
    jobs: withEnqueueDeadline(dispatcher, ENQUEUE_DEADLINE_MS, logger),
    metrics,
    clock: () => new Date(),
    ...(options.trackingSpool ? { trackingSpool: options.trackingSpool } : {}),
    sns: createSnsClient({
      pinnedCertificate: config.SNS_CERTIFICATE_FILE
        ? readFileSync(config.SNS_CERTIFICATE_FILE, 'utf8')
        : undefined,
    }),
  };
  return {
    deps,
    async close() {
      // Acknowledged opens and clicks first, while the pool is open (the spool keeps what fails).
      await withDeadline(flushTrackingEvents(deps), 10_000);
      options.trackingSpool?.close();
      await withDeadline(dispatcher.close(), 2000);
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/** How long an API request waits for Redis to take a job after its rows were committed. */
const ENQUEUE_DEADLINE_MS = 2000;

/** Serves the API on PORT until SIGINT/SIGTERM. */
export async function startServer(
  config: Config = loadConfig(),
): Promise<{ close(): Promise<void>; port: number }> {
  const trackingSpool = EventSpool.open(config.TRACKING_SPOOL_DIR, config.DATABASE_URL);
  const runtime = createNodeRuntime(config, { trackingSpool });
  // A worker of `serve --processes N` counts credential failures with its siblings.
  const channel = processChannel();
  const authFailures = channel ? shareAuthFailures(createAuthFailures(config), channel) : undefined;
  const app = createApp(runtime.deps, {
    extraRoutes: registerDocs,
    ...(authFailures ? { authFailures } : {}),
  });
  // Events a previous server journaled but did not store (killed, or the database was down).
  const buffer = tracker(runtime.deps).buffer;
  const replayed = buffer.adoptSpooled(trackingSpool.adoptOrphans());
  if (replayed > 0) {
    runtime.deps.logger.info({ events: replayed }, 'replaying journaled tracking events');
    void buffer.flush();
  }
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: '0.0.0.0' }) as Server;
  // Under `serve --processes`, the primary serves METRICS_LISTEN with every worker's metrics
  // summed (prom-client's AggregatorRegistry asks each worker for this registry over IPC).
  if (cluster.isWorker && runtime.deps.metrics) {
    // Constructing one installs prom-client's worker-side listener; the registry is what it reports.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([runtime.deps.metrics]);
  }
  const metrics =
    config.METRICS_LISTEN && runtime.deps.metrics && !cluster.isWorker
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
      // Stop accepting, let requests in progress finish (keep-alive connections are closed once
      // idle; past 5 s, all of them), then flush what they acknowledged.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      if ((await raceDeadline(closed, 5000)) === TIMED_OUT) server.closeAllConnections?.();
      await runtime.close();
    },
  };
}
