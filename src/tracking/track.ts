import { LRUCache } from 'lru-cache';
import type { AppDeps } from '../deps.js';
import { type DeferredEvent, type EventBuffer, trackingBuffer } from './event-buffer.js';
import { classifyClick, classifyOpen, type MachineSignal } from './machine.js';
import { type MessageLookup, messageLookup } from './message-lookup.js';
import type { NewEvent, StoredLink, TrackedMessageWithLinks } from './store.js';
import { type TokenClaims, type TokenPurpose, verifyToken } from './tokens.js';

export interface RequestInfo {
  userAgent: string | undefined;
  ip: string | undefined;
  method: string;
}

/** A value now when everything needed is in memory, else a promise of it. */
export type Maybe<T> = T | Promise<T>;

const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function signalData(signal: MachineSignal): Record<string, unknown> {
  if (!signal.reason && !signal.proxy) return NO_DATA;
  const data: Record<string, unknown> = {};
  if (signal.reason) data.machine_reason = signal.reason;
  if (signal.proxy) data.proxy = signal.proxy;
  return data;
}

/**
 * Verified tokens, remembered by their exact string: a token verifies the same way every time
 * (the secret is fixed for the app's life), and a message's pixel and links are fetched many
 * times (proxies, scanners, the reader). Only tokens that verified are kept, so a guessed token
 * always pays the full HMAC check.
 */
const TOKEN_CACHE_SIZE = 10_000;

/** What the tracking routes of one app share: verified tokens, the message lookup, the buffer. */
export class Tracker {
  private readonly tokens: Record<'open' | 'click', LRUCache<string, TokenClaims>> = {
    open: new LRUCache({ max: TOKEN_CACHE_SIZE }),
    click: new LRUCache({ max: TOKEN_CACHE_SIZE }),
  };
  readonly lookup: MessageLookup;
  readonly buffer: EventBuffer;
  tokenHits = 0;
  tokenMisses = 0;

  constructor(private readonly deps: AppDeps) {
    this.lookup = messageLookup(deps);
    this.buffer = trackingBuffer(deps);
    this.buffer.setResolver((events) => this.resolve(events));
  }

  /** The claims of a valid open or click token, or null. */
  verify(purpose: Extract<TokenPurpose, 'open' | 'click'>, token: string): TokenClaims | null {
    const cache = this.tokens[purpose];
    const known = cache.get(token);
    if (known) {
      this.tokenHits++;
      return known;
    }
    this.tokenMisses++;
    const claims = verifyToken(this.deps.config.OFFERFLOW_SECRET, purpose, token);
    if (claims) cache.set(token, claims);
    return claims;
  }

  /** Cache and buffer counters, for benchmarks and diagnostics. */
  stats() {
    return {
      token_hits: this.tokenHits,
      token_misses: this.tokenMisses,
      message_hits: this.lookup.hits,
      message_misses: this.lookup.misses,
      events_written: this.buffer.written,
      events_dropped: this.buffer.dropped,
    };
  }

  /** The message a token names: at once when remembered, else through the batched lookup. */
  message(id: number): Maybe<TrackedMessageWithLinks | null> {
    return this.lookup.peek(id) ?? this.lookup.get(id);
  }

  /** Queues the `opened` event of a message; a promise when the answer must wait for the spool. */
  recordOpen(message: TrackedMessageWithLinks, request: RequestInfo): Promise<void> | undefined {
    return this.buffer.push(openEvent(message, request, this.deps.clock()));
  }

  /** Queues the `clicked` event of a message's link, with the offer the link belongs to. */
  recordClick(
    message: TrackedMessageWithLinks,
    linkIndex: number,
    link: StoredLink & { url: string },
    request: RequestInfo,
  ): Promise<void> | undefined {
    return this.buffer.push(clickEvent(message, linkIndex, link, request, this.deps.clock()));
  }

  /**
   * Keeps an open or click whose message could not be read (PostgreSQL down): it is journaled
   * like any other and becomes its contact event, with the time of the request, once the
   * message can be looked up.
   */
  defer(
    kind: 'opened' | 'clicked',
    messageId: number,
    request: RequestInfo,
    click?: { link: number; url: string },
  ): Promise<void> | undefined {
    return this.buffer.pushDeferred({
      kind,
      message_id: messageId,
      ...(click ? { link: click.link, url: click.url } : {}),
      user_agent: request.userAgent,
      ip: request.ip,
      method: request.method,
      at: this.deps.clock(),
    });
  }

  /** Deferred events as contact events; a lookup failure rejects, and the buffer keeps them. */
  private async resolve(events: DeferredEvent[]): Promise<Array<NewEvent | null>> {
    const messages = await Promise.all(events.map((e) => this.lookup.get(e.message_id)));
    return events.map((e, i) => {
      const message = messages[i];
      if (!message) return null;
      const request: RequestInfo = { userAgent: e.user_agent, ip: e.ip, method: e.method };
      if (e.kind === 'opened') return openEvent(message, request, e.at);
      const link = clickTarget(message, e.link ?? -1) ?? (e.url ? { url: e.url, offer_id: null } : null);
      return link ? clickEvent(message, e.link ?? -1, link, request, e.at) : null;
    });
  }
}

/** The `opened` event of a message, as of `at`. */
function openEvent(message: TrackedMessageWithLinks, request: RequestInfo, at: Date): NewEvent {
  const signal = classifyOpen({
    userAgent: request.userAgent,
    ip: request.ip,
    method: request.method,
    sentAt: message.sent_at,
    at,
  });
  return {
    customer_id: message.customer_id,
    kind: 'opened',
    message_id: message.id,
    campaign_id: message.campaign_id,
    trigger_id: message.trigger_id,
    machine: signal.machine,
    data: signalData(signal),
    at,
  };
}

/** A recommended product's link names its product in the click: the product is attributed. */
function productOf(link: StoredLink): Record<string, unknown> {
  if (link.sku === undefined) return NO_DATA;
  return { sku: link.sku, product_id: link.product_id ?? null, feed: link.feed ?? null };
}

/** The `clicked` event of a message's link, with the offer the link belongs to, as of `at`. */
function clickEvent(
  message: TrackedMessageWithLinks,
  linkIndex: number,
  link: StoredLink & { url: string },
  request: RequestInfo,
  at: Date,
): NewEvent {
  const signal = classifyClick({
    userAgent: request.userAgent,
    ip: request.ip,
    method: request.method,
    sentAt: message.sent_at,
    at,
  });
  return {
    customer_id: message.customer_id,
    kind: 'clicked',
    message_id: message.id,
    campaign_id: message.campaign_id,
    trigger_id: message.trigger_id,
    offer_id: link.offer_id ?? null,
    machine: signal.machine,
    data: { link: linkIndex, url: link.url, ...productOf(link), ...signalData(signal) },
    at,
  };
}

const trackers = new WeakMap<AppDeps, Tracker>();

/** The tracker of an app's dependencies, created on first use. */
export function tracker(deps: AppDeps): Tracker {
  let found = trackers.get(deps);
  if (!found) {
    found = new Tracker(deps);
    trackers.set(deps, found);
  }
  return found;
}

/** The stored target of a message's link: only http(s) urls the message was sent with. */
export function clickTarget(
  message: TrackedMessageWithLinks | null,
  linkIndex: number,
): (StoredLink & { url: string }) | null {
  const link = message?.links[linkIndex];
  if (!link?.url || !/^https?:\/\//i.test(link.url)) return null;
  return link as StoredLink & { url: string };
}
