import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { OFFER_LINK_BASE } from './links.js';
import { findTrackedMessages, type TrackedMessageWithLinks as TrackedMessage } from './store.js';

export interface MessageLookupOptions {
  /** Flush a batch at once when this many ids wait. */
  maxBatch?: number;
  /** Sent messages remembered across requests (least recently used evicted first). */
  cacheSize?: number;
  /** How long a remembered message is trusted. */
  cacheTtlMs?: number;
}

/**
 * Coalesces the message lookups of concurrent tracking requests into one primary-key query
 * per turn of the event loop (`where id = any(...)`): each request still costs one indexed
 * lookup, but a burst of pixel fetches costs a few round trips instead of one each, which
 * keeps the pool and the database free for the API.
 *
 * Sent messages are also remembered in a small LRU with a TTL, shared by all requests: what a
 * tracking request reads of a sent message (recipient, campaign, sent_at, links) does not change
 * after sending, and a message's pixel and links are fetched many times (proxies, scanners, the
 * reader). Unknown ids and unsent messages are never remembered.
 */
export class MessageLookup {
  private pending = new Map<number, Array<(m: TrackedMessage | null) => void>>();
  private failures = new Map<number, Array<(e: unknown) => void>>();
  private scheduled = false;
  /** Insertion order is recency order: a hit is deleted and set again. */
  private cache = new Map<number, { message: TrackedMessage; expires: number }>();
  private readonly maxBatch: number;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly sql: Db,
    options: MessageLookupOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
  }

  get(id: number): Promise<TrackedMessage | null> {
    const cached = this.cache.get(id);
    if (cached) {
      this.cache.delete(id);
      if (cached.expires > performance.now()) {
        this.cache.set(id, cached);
        this.hits++;
        return Promise.resolve(cached.message);
      }
    }
    this.misses++;
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(id);
      if (waiting) {
        waiting.push(resolve);
        this.failures.get(id)?.push(reject);
      } else {
        this.pending.set(id, [resolve]);
        this.failures.set(id, [reject]);
      }
      if (this.pending.size >= this.maxBatch) this.run();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  private run(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const pending = this.pending;
    const failures = this.failures;
    this.pending = new Map();
    this.failures = new Map();
    findTrackedMessages(this.sql, [...pending.keys()], OFFER_LINK_BASE).then(
      (rows) => {
        const byId = new Map(rows.map((r) => [r.id, r]));
        this.remember(rows);
        for (const [id, resolvers] of pending) for (const resolve of resolvers) resolve(byId.get(id) ?? null);
      },
      (error) => {
        for (const rejects of failures.values()) for (const reject of rejects) reject(error);
      },
    );
  }

  private remember(rows: TrackedMessage[]): void {
    if (this.cacheSize <= 0) return;
    const expires = performance.now() + this.cacheTtlMs;
    for (const message of rows) {
      if (!message.sent_at) continue;
      this.cache.delete(message.id);
      this.cache.set(message.id, { message, expires });
    }
    for (const id of this.cache.keys()) {
      if (this.cache.size <= this.cacheSize) break;
      this.cache.delete(id);
    }
  }
}

const lookups = new WeakMap<AppDeps, MessageLookup>();

/** The message lookup of an app's dependencies, created on first use. */
export function messageLookup(deps: AppDeps): MessageLookup {
  let lookup = lookups.get(deps);
  if (!lookup) {
    lookup = new MessageLookup(deps.sql);
    lookups.set(deps, lookup);
  }
  return lookup;
}
