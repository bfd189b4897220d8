import { type Context, Hono } from 'hono';
import { Counter, type Registry } from 'prom-client';
import type { AppDeps } from '../deps.js';
import type { App, AppEnv } from '../http/env.js';
import { onError } from '../http/on-error.js';
import { AppError } from '../http/problem.js';
import { notFoundPage } from './pages.js';
import type { TrackedMessageWithLinks } from './store.js';
import { clickLink, isHttpUrl, type RequestInfo, type Tracker, tracker } from './track.js';

// The smallest transparent GIF (43 bytes), shared by every response.
const PIXEL = Uint8Array.from(atob('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'), (ch) =>
  ch.charCodeAt(0),
);
export const NO_STORE = Object.freeze({
  'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0',
  pragma: 'no-cache',
  expires: '0',
});
// Plain objects with the length given: the Node adapter writes them as they are, with no
// Headers object built per request.
const PIXEL_HEADERS = Object.freeze({
  ...NO_STORE,
  'content-type': 'image/gif',
  'content-length': String(PIXEL.byteLength),
});
const EMPTY_404_HEADERS = Object.freeze({ ...NO_STORE, 'content-length': '0' });
// Shared response inits: nothing downstream writes to them.
const PIXEL_INIT = Object.freeze({ status: 200, headers: PIXEL_HEADERS });
const NOT_FOUND_INIT = Object.freeze({ status: 404, headers: EMPTY_404_HEADERS });

/** Requests answered by the tracking routes, counted in plain numbers and read at scrape time. */
interface RouteCounts {
  open: Record<'200' | '404' | '500', number>;
  click: Record<'302' | '404' | '500', number>;
}

const countsByRegistry = new WeakMap<Registry, RouteCounts>();

function routeCounts(registry: Registry | undefined): RouteCounts {
  const fresh = (): RouteCounts => ({ open: { 200: 0, 404: 0, 500: 0 }, click: { 302: 0, 404: 0, 500: 0 } });
  if (!registry) return fresh();
  let counts = countsByRegistry.get(registry);
  if (counts) return counts;
  const pending = fresh();
  counts = pending;
  countsByRegistry.set(registry, counts);
  new Counter({
    name: 'offerflow_tracking_requests_total',
    help: 'Open pixel and click requests by route and status (not in offerflow_http_requests_total)',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect() {
      for (const [route, statuses] of Object.entries(pending) as Array<[string, Record<string, number>]>) {
        for (const status of Object.keys(statuses)) {
          const n = statuses[status]!;
          statuses[status] = 0;
          if (n > 0) this.inc({ route: `/t/${route[0]}/:token`, status }, n);
        }
      }
    },
  });
  return counts;
}

type NodeHeaders = Record<string, string | string[] | undefined>;

/**
 * Node's own parsed headers when @hono/node-server serves the request (`c.env.incoming`):
 * `c.req.header` reads the WHATWG Headers of the request, which the adapter builds from the
 * raw headers on first use, and that cost as much as verifying the token. Elsewhere (Workers,
 * `app.request` in tests) undefined, and the request's own headers are read.
 */
function nodeHeaders(c: Context<AppEnv>): NodeHeaders | undefined {
  return (c.env as { incoming?: { headers?: NodeHeaders } } | undefined)?.incoming?.headers;
}

function header(
  req: { header(name: string): string | undefined },
  node: NodeHeaders | undefined,
  name: string,
): string | undefined {
  if (!node) return req.header(name);
  const value = node[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function requestInfo(c: Context<AppEnv>, withIp: boolean): RequestInfo {
  const req = c.req;
  const node = nodeHeaders(c);
  const info: RequestInfo = { userAgent: header(req, node, 'user-agent'), ip: undefined, method: req.method };
  // Only opens read the address (Apple's proxies); a click is judged by its agent and timing.
  if (withIp) {
    info.ip =
      header(req, node, 'cf-connecting-ip') ??
      header(req, node, 'x-forwarded-for')?.split(',')[0]?.trim() ??
      header(req, node, 'x-real-ip');
  }
  return info;
}

function pixel(): Response {
  return new Response(PIXEL, PIXEL_INIT);
}

function redirect(url: string): Response {
  // Same rule as Hono's c.redirect: a location outside Latin-1 is percent-encoded.
  const location = /[\u0100-\uffff]/.test(url) ? encodeURI(url) : url;
  return new Response(null, { status: 302, headers: { location } });
}

function openNotFound(counts: RouteCounts): Response {
  counts.open[404]++;
  return new Response(null, NOT_FOUND_INIT);
}

// Module-level functions rather than closures: the answer of a remembered message is built
// without allocating a function per request.
function answerOpen(
  t: Tracker,
  counts: RouteCounts,
  message: TrackedMessageWithLinks | null,
  info: RequestInfo,
): Response | Promise<Response> {
  if (!message) return openNotFound(counts);
  const journaled = t.recordOpen(message, info);
  counts.open[200]++;
  // The answer acknowledges the event: it waits for the spool's write when there is one.
  return journaled ? journaled.then(pixel) : pixel();
}

function clickNotFound(c: Context<AppEnv>, counts: RouteCounts): Response | Promise<Response> {
  counts.click[404]++;
  return c.html(notFoundPage(), 404, NO_STORE);
}

function answerClick(
  c: Context<AppEnv>,
  t: Tracker,
  counts: RouteCounts,
  message: TrackedMessageWithLinks | null,
  linkIndex: number,
  info: RequestInfo,
  signedTarget: string | undefined,
): Response | Promise<Response> {
  const link = clickLink(message, linkIndex, signedTarget);
  if (!message || !link) return clickNotFound(c, counts);
  const journaled = t.recordClick(message, linkIndex, link, info);
  counts.click[302]++;
  return journaled ? journaled.then(() => redirect(link.url)) : redirect(link.url);
}

/** A pixel answered before its message is read: the open is resolved when the buffer flushes. */
function openAhead(
  t: Tracker,
  counts: RouteCounts,
  messageId: number,
  info: RequestInfo,
): Response | Promise<Response> {
  const journaled = t.defer('opened', messageId, info);
  counts.open[200]++;
  return journaled ? journaled.then(pixel) : pixel();
}

/** A redirect to the token's signed target before the message is read (the click resolved later). */
function clickAhead(
  t: Tracker,
  counts: RouteCounts,
  messageId: number,
  linkIndex: number,
  target: string,
  info: RequestInfo,
): Response | Promise<Response> {
  const journaled = t.defer('clicked', messageId, info, { link: linkIndex, url: target });
  counts.click[302]++;
  return journaled ? journaled.then(() => redirect(target)) : redirect(target);
}

/**
 * The open pixel and the click redirect as a small app of their own, answered before the main
 * app: they are most of the traffic of a mail campaign, and the main app's request id, logging,
 * metrics and body-limit middleware cost more per request than the tracking does. They keep
 * their own counters (offerflow_tracking_requests_total) and log only failures. A request is
 * served from memory when its message is remembered. Otherwise, when its id is below the
 * horizon of known messages (see message-horizon.ts), it is answered at once and its event kept
 * as a deferred one, resolved with its whole batch when the buffer flushes (one query for up to
 * 500 events, off the request's path); a click so only when its token carries its target.
 * Only the rest (an id above the horizon, an old click link without a target) waits for the
 * batched primary-key lookup.
 */
export function trackingFastPath(deps: AppDeps): Hono<AppEnv> {
  const t: Tracker = tracker(deps);
  const counts = routeCounts(deps.metrics);
  const fast = new Hono<AppEnv>();

  fast.get('/t/o/:token', (c): Response | Promise<Response> => {
    const claims = t.verify('open', c.req.param('token'));
    if (!claims) return openNotFound(counts);
    const info = requestInfo(c, true);
    const known = t.lookup.peek(claims.messageId);
    if (known) return answerOpen(t, counts, known, info);
    if (t.answersAhead(claims.messageId)) return openAhead(t, counts, claims.messageId, info);
    const message = t.message(claims.messageId);
    if (!(message instanceof Promise)) return answerOpen(t, counts, message, info);
    return message.then(
      (found) => answerOpen(t, counts, found, info),
      (error: unknown) => {
        // The database cannot be read: the open is kept (journaled) and stored once it can;
        // the mail still renders.
        deps.logger.warn({ err: error }, 'open deferred: message lookup failed');
        return openAhead(t, counts, claims.messageId, info);
      },
    );
  });

  fast.get('/t/c/:token', (c): Response | Promise<Response> => {
    const claims = t.verify('click', c.req.param('token'));
    if (!claims) return clickNotFound(c, counts);
    const info = requestInfo(c, false);
    const known = t.lookup.peek(claims.messageId);
    if (known) return answerClick(c, t, counts, known, claims.linkIndex, info, claims.target);
    if (isHttpUrl(claims.target) && t.answersAhead(claims.messageId))
      return clickAhead(t, counts, claims.messageId, claims.linkIndex, claims.target, info);
    const message = t.message(claims.messageId);
    if (!(message instanceof Promise))
      return answerClick(c, t, counts, message, claims.linkIndex, info, claims.target);
    return message.then(
      (found) => answerClick(c, t, counts, found, claims.linkIndex, info, claims.target),
      (error: unknown) => {
        // The database cannot be read: a link signed with its target still gets there, and the
        // click is kept until the message can be looked up. An older link without one cannot.
        if (!isHttpUrl(claims.target)) throw error;
        deps.logger.warn({ err: error }, 'click deferred: message lookup failed');
        return clickAhead(t, counts, claims.messageId, claims.linkIndex, claims.target, info);
      },
    );
  });

  fast.notFound((c) => {
    throw new AppError(404, 'not-found', `No route for ${c.req.method} ${c.req.path}`);
  });
  fast.onError((error, c) => {
    if (!(error instanceof AppError)) {
      deps.logger.error({ err: error }, 'tracking request failed');
      if (c.req.path.startsWith('/t/c/')) counts.click[500]++;
    }
    return onError(error, c);
  });
  return fast;
}

function isTrackingPath(url: string): boolean {
  const path = url.indexOf('/', url.indexOf('//') + 2);
  return path > 0 && (url.startsWith('/t/o/', path) || url.startsWith('/t/c/', path));
}

/** Serves GET/HEAD /t/o/* and /t/c/* with the tracking fast path, everything else with the app. */
export function withTrackingFastPath(app: App, deps: AppDeps): App {
  const fast = trackingFastPath(deps);
  const main = app.fetch;
  app.fetch = (request, env, executionCtx) =>
    (request.method === 'GET' || request.method === 'HEAD') && isTrackingPath(request.url)
      ? fast.fetch(request, env, executionCtx)
      : main(request, env, executionCtx);
  return app;
}
