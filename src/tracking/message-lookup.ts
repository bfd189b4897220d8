import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { OFFER_LINK_BASE } from './links.js';
import { findTrackedMessages, type TrackedMessageWithLinks as TrackedMessage } from './store.js';

/**
 * Coalesces the message lookups of concurrent tracking requests into one primary-key query
 * per turn of the event loop (`where id = any(...)`): each request still costs one indexed
 * lookup, but a burst of pixel fetches costs a few round trips instead of one each, which
 * keeps the pool and the database free for the API.
 */
export class MessageLookup {
  private pending = new Map<number, Array<(m: TrackedMessage | null) => void>>();
  private failures = new Map<number, Array<(e: unknown) => void>>();
  private scheduled = false;

  constructor(
    private readonly sql: Db,
    private readonly maxBatch = 500,
  ) {}

  get(id: number): Promise<TrackedMessage | null> {
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
        for (const [id, resolvers] of pending) for (const resolve of resolvers) resolve(byId.get(id) ?? null);
      },
      (error) => {
        for (const rejects of failures.values()) for (const reject of rejects) reject(error);
      },
    );
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
