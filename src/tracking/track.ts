import { LRUCache } from 'lru-cache';
import type { AppDeps } from '../deps.js';
import { type DeferredEvent, type EventBuffer, trackingBuffer } from './event-buffer.js';
import { classifyClick, classifyOpen, type MachineSignal } from './machine.js';
import { MessageHorizon } from './message-horizon.js';
import { type MessageLookup, messageLookup } from './message-lookup.js';
import { highestMessageId, type NewEvent, type StoredLink, type TrackedMessageWithLinks } from './store.js';
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
  /** Which verified ids name a message without reading it (see message-horizon.ts). */
  readonly horizon: MessageHorizon;
  tokenHits = 0;
  tokenMisses = 0;

  constructor(private readonly deps: AppDeps) {
    this.lookup = messageLookup(deps);
    this.buffer = trackingBuffer(deps);
    this.horizon = new MessageHorizon(() => highestMessageId(deps.sql));
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
    return this.lookup.peek(id) ?? this.lookup.get(id).then((m) => this.learned(m));
  }

  /**
   * Whether a verified id can be answered before its message is read: its event is then kept
   * as a deferred one and resolved, with the others of its batch, when the buffer flushes.
   */
  answersAhead(id: number): boolean {
    return this.horizon.covers(id);
  }

  private learned(message: TrackedMessageWithLinks | null): TrackedMessageWithLinks | null {
    if (message) this.horizon.learn(message.id);
    return message;
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
   * Keeps an open or click whose message is not read yet (not remembered, or PostgreSQL down):
   * it is journaled like any other and becomes its contact event, with the time of the request,
   * when the buffer flushes and the message can be looked up (one query for the batch).
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
    const messages = await this.lookup.getMany(events.map((e) => e.message_id));
    return events.map((e) => {
      const message = messages.get(e.message_id);
      if (!message) return null;
      const request: RequestInfo = { userAgent: e.user_agent, ip: e.ip, method: e.method };
      if (e.kind === 'opened') return openEvent(message, request, e.at);
      const link = clickLink(message, e.link ?? -1, e.url);
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

const HTTP_URL = /^https?:\/\//i;

/** A target a click may be sent to: http(s) only. */
export function isHttpUrl(url: string | undefined | null): url is string {
  return !!url && HTTP_URL.test(url);
}

/** The stored target of a message's link: only http(s) urls the message was sent with. */
export function clickTarget(
  message: TrackedMessageWithLinks | null,
  linkIndex: number,
): (StoredLink & { url: string }) | null {
  const link = message?.links[linkIndex];
  if (!isHttpUrl(link?.url)) return null;
  return link as StoredLink & { url: string };
}

/**
 * Where a click goes and what it is attributed to. A token that carries its target (signed with
 * it, so not an open redirect) goes there: the url the mail was rendered with, which a later
 * edit of the offer or product does not change, and which can be answered before the message is
 * read. The stored link still names the offer and product the click counts for. A token without
 * a target (mail sent before targets were signed) goes to the stored link.
 */
export function clickLink(
  message: TrackedMessageWithLinks | null,
  linkIndex: number,
  signedTarget: string | undefined,
): (StoredLink & { url: string }) | null {
  if (!message) return null;
  const stored = clickTarget(message, linkIndex);
  if (!isHttpUrl(signedTarget)) return stored;
  if (!stored) return { url: signedTarget, offer_id: null };
  return stored.url === signedTarget ? stored : { ...stored, url: signedTarget };
}
