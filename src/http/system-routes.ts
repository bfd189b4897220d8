import { raceDeadline, TIMED_OUT } from '../queue/deadline.js';
import { bearerMatches } from './bearer.js';
import type { App } from './env.js';
import { AppError } from './problem.js';

/** A health probe's answer: `ok`, the error, or `timeout` after 1 s (a load balancer's check has a deadline). */
const PROBE_TIMEOUT_MS = 1000;
const check = (probe: Promise<unknown>): Promise<string> =>
  raceDeadline(
    probe.then(
      () => 'ok',
      (error: Error) => `error: ${error.message}`,
    ),
    PROBE_TIMEOUT_MS,
  ).then((result) => (result === TIMED_OUT ? `error: no answer within ${PROBE_TIMEOUT_MS} ms` : result));

/** /healthz: the database and Redis answer. /metrics: Prometheus text. */
export function registerSystemRoutes(app: App): void {
  app.get('/healthz', async (c) => {
    const { sql, redis } = c.var.deps;
    const [database, redisState] = await Promise.all([
      check(sql`select 1`.execute()),
      // A client that is not connected queues commands until it reconnects: say so at once.
      !redis
        ? Promise.resolve('not configured')
        : redis.status === 'ready'
          ? check(redis.ping())
          : Promise.resolve(`error: redis connection ${redis.status}`),
    ]);
    const checks = { database, redis: redisState };
    const ok = database === 'ok' && (redisState === 'ok' || redisState === 'not configured');
    return c.json({ status: ok ? 'ok' : 'degraded', checks }, ok ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const { metrics: registry, config } = c.var.deps;
    // Served on its own listener instead (src/server.ts): not on the public port at all.
    if (config.METRICS_LISTEN) throw new AppError(404, 'not-found', 'No route for GET /metrics');
    if (config.METRICS_TOKEN && !bearerMatches(c.req.header('authorization'), config.METRICS_TOKEN)) {
      throw new AppError(401, 'unauthorized', 'Send METRICS_TOKEN as Authorization: Bearer <token>');
    }
    if (!registry) return c.text('# metrics are not collected in this runtime\n', 200);
    return c.text(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
}
