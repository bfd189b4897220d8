import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { bearerMatches } from './bearer.js';

/** `host:port` (IPv6 hosts in brackets) as serve() wants them. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { hostname: listen.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(at + 1)) };
}

/**
 * Serves GET /metrics alone on METRICS_LISTEN (a private address, say 127.0.0.1:9464), so the
 * public port never exposes it; METRICS_TOKEN still applies when set.
 */
export function startMetricsListener(
  registry: { metrics(): Promise<string>; contentType: string },
  options: { listen: string; token?: string | undefined },
): Promise<{ port: number; close(): Promise<void> }> {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    if (options.token && !bearerMatches(c.req.header('authorization'), options.token)) {
      return c.text('Unauthorized\n', 401, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
    return c.text(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
  app.notFound((c) => c.text('Not found\n', 404));
  const { hostname, port } = parseListen(options.listen);
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname, port }, (info) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // A scraper's keep-alive connection must not hold the shutdown.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
