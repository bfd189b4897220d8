import { LRUCache } from 'lru-cache';
import type { Db } from '../db/sql.js';
import { isDatabaseUnavailable } from '../db/transient.js';
import type { AppDeps } from '../deps.js';
import { OFFER_LINK_BASE, PRODUCT_LINK_BASE } from './links.js';
import { findTrackedMessages, type TrackedMessageWithLinks as TrackedMessage } from './store.js';

export interface MessageLookupOptions {
  /** Flush a batch at once when this many ids wait. */
  maxBatch?: number;
  /** Sent messages remembered across requests (least recently used evicted first). */
  cacheSize?: number;
  /** How long a remembered message is trusted. */
  cacheTtlMs?: number;
}

const MAX_IN_FLIGHT = 2;
/** After a lookup found the database unavailable, lookups fail at once for this long. */
const UNAVAILABLE_MS = 1000;

/**
 * Coalesces the message lookups of concurrent tracking requests into one primary-key query
 * (`where id = any(...)`) per turn of the event loop, with at most two such queries in flight:
 * each request still costs one indexed lookup, but a burst of pixel fetches costs a few round
 * trips instead of one each, which keeps the pool and the database free for the API.
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
  private inFlight = 0;
  /** While the database is known to be down: until when, and what it said. */
  private downUntil = 0;
  private downError: unknown;
  /** Absent when remembering is turned off (a size or TTL of 0). */
  private readonly cache: LRUCache<number, TrackedMessage> | undefined;
  private readonly maxBatch: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly sql: Db,
    options: MessageLookupOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    const size = options.cacheSize ?? 10_000;
    const ttl = options.cacheTtlMs ?? 60_000;
    this.cache = size > 0 && ttl > 0 ? new LRUCache({ max: size, ttl }) : undefined;
  }

  /** The remembered message, without waiting: undefined when it must be looked up with `get`. */
  peek(id: number): TrackedMessage | undefined {
    const cached = this.cache?.get(id);
    if (cached) this.hits++;
    return cached;
  }

  get(id: number): Promise<TrackedMessage | null> {
    const cached = this.peek(id);
    if (cached) return Promise.resolve(cached);
    this.misses++;
    // A tracking request must not wait for a database that just refused: the caller answers
    // from the token and keeps the event for later (see fast-path.ts).
    if (this.downUntil > Date.now()) return Promise.reject(this.downError);
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
      else this.schedule();
    });
  }

  /**
   * Many messages at once, for the event buffer's flush (already a batch of its own): the
   * remembered ones from memory, the rest in one query, outside the coalescing of `get` (whose
   * two queries in flight belong to the requests waiting for an answer). Rejects, as `get` does,
   * when the database cannot be read.
   */
  async getMany(ids: readonly number[]): Promise<Map<number, TrackedMessage>> {
    const found = new Map<number, TrackedMessage>();
    const missing = new Set<number>();
    for (const id of ids) {
      if (found.has(id) || missing.has(id)) continue;
      const cached = this.peek(id);
      if (cached) found.set(id, cached);
      else missing.add(id);
    }
    if (missing.size === 0) return found;
    this.misses += missing.size;
    if (this.downUntil > Date.now()) throw this.downError;
    let rows: TrackedMessage[];
    try {
      rows = await findTrackedMessages(this.sql, [...missing], OFFER_LINK_BASE, PRODUCT_LINK_BASE);
    } catch (error) {
      this.noteFailure(error);
      throw error;
    }
    this.remember(rows);
    for (const row of rows) found.set(row.id, row);
    return found;
  }

  private noteFailure(error: unknown): void {
    if (isDatabaseUnavailable(error)) {
      this.downUntil = Date.now() + UNAVAILABLE_MS;
      this.downError = error;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    // At most MAX_IN_FLIGHT queries at once: ids that arrive meanwhile wait for the next one, so
    // under load the batches grow instead of the round trips, and a flood of pixel fetches never
    // holds more than two of the pool's connections (the API keeps the rest).
    if (this.pending.size === 0 || this.inFlight >= MAX_IN_FLIGHT) return;
    const pending = this.pending;
    const failures = this.failures;
    this.pending = new Map();
    this.failures = new Map();
    this.inFlight++;
    findTrackedMessages(this.sql, [...pending.keys()], OFFER_LINK_BASE, PRODUCT_LINK_BASE)
      .then(
        (rows) => {
          const byId = new Map(rows.map((r) => [r.id, r]));
          this.remember(rows);
          for (const [id, resolvers] of pending)
            for (const resolve of resolvers) resolve(byId.get(id) ?? null);
        },
        (error) => {
          this.noteFailure(error);
          for (const rejects of failures.values()) for (const reject of rejects) reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.pending.size > 0) this.schedule();
      });
  }

  private remember(rows: TrackedMessage[]): void {
    if (!this.cache) return;
    for (const message of rows) if (message.sent_at) this.cache.set(message.id, message);
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
