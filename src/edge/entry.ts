import { Hono } from 'hono';
import { createApp } from '../app.js';
import type { Config } from '../config.js';
import { createSql } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { flushTrackingEvents } from '../tracking/event-buffer.js';
import { type EdgeEnv, edgeConfig } from './config.js';
import { createEdgeLogger } from './logger.js';
import { NODE_ONLY_GET_ROUTES, NODE_ONLY_ROUTES, nodeOnlyResponse } from './node-only.js';

export type { EdgeEnv } from './config.js';

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

interface Isolate {
  config: Config;
  logger: AppDeps['logger'];
}

// Config and logger depend only on the bindings, which do not change within an isolate.
const isolates = new WeakMap<EdgeEnv, Isolate>();

function isolateFor(env: EdgeEnv): Isolate {
  let isolate = isolates.get(env);
  if (!isolate) {
    const config = edgeConfig(env);
    isolate = { config, logger: createEdgeLogger(config.LOG_LEVEL) };
    isolates.set(env, isolate);
  }
  return isolate;
}

/**
 * One request through the same Hono app as `src/server.ts`, over postgres.js through Hyperdrive.
 * A Worker may not reuse a socket opened by another request, and Hyperdrive keeps the real
 * pool near the database, so each request gets its own small client (Cloudflare's advice) and
 * with it its own app (building it costs well under a millisecond). There is no Redis and no
 * queue: `jobs` is absent, so a launch or an import only writes its rows, and the Node
 * reconciler enqueues them (a transactional outbox). No metrics: Workers analytics has them.
 */
async function serve(request: Request, env: EdgeEnv, ctx: ExecutionContext): Promise<Response> {
  const { config, logger } = isolateFor(env);
  // fetch_types stays on: text[] and bigint[] columns must come back as arrays.
  const sql = createSql(config.DATABASE_URL, { max: 5 });
  const deps: AppDeps = { sql, config, logger, clock: () => new Date() };
  try {
    return await createApp(deps).fetch(request);
  } finally {
    // Opens and clicks are buffered per app: write them after the response, then close.
    ctx.waitUntil(
      flushTrackingEvents(deps)
        .catch((error: unknown) => logger.error({ err: error }, 'tracking events not written'))
        .finally(() => sql.end({ timeout: 5 })),
    );
  }
}

const edge = new Hono<{ Bindings: EdgeEnv }>();
for (const path of NODE_ONLY_ROUTES) edge.post(path, (c) => nodeOnlyResponse(c.req.path));
for (const path of NODE_ONLY_GET_ROUTES) edge.get(path, (c) => nodeOnlyResponse(c.req.path));
edge.all('*', (c) => serve(c.req.raw, c.env, c.executionCtx));

export default { fetch: edge.fetch };
