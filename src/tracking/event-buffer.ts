import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { attributeStoredTouches } from '../conversions/attribute.js';
import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import type { EventSpool } from './event-spool.js';
import { insertEvents, type NewEvent } from './store.js';

/**
 * An open or click answered while its message could not be read (PostgreSQL down): what the
 * request said, turned into a contact event once the message can be looked up again.
 */
export interface DeferredEvent {
  kind: 'opened' | 'clicked';
  message_id: number;
  /** A click's link index and the target its signed token carried. */
  link?: number;
  url?: string;
  user_agent?: string | undefined;
  ip?: string | undefined;
  method: string;
  at: Date;
}

/** Turns deferred events into contact events (null: the message does not exist). */
export type DeferredResolver = (events: DeferredEvent[]) => Promise<Array<NewEvent | null>>;

type Entry =
  | { key: string; event: NewEvent; deferred?: undefined }
  | { key: string; deferred: DeferredEvent };

/**
 * A time-ordered unique key (UUIDv7 layout: 48-bit milliseconds, then random), made where the
 * request is answered: storing a batch again stores each event once, and the index it lands in
 * grows at its end.
 */
export function newEventKey(now = Date.now()): string {
  const ms = now.toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** A spooled record read back into an entry (dates were written as ISO strings). */
function entryFromRecord(record: unknown): Entry | null {
  const r = record as {
    key?: string;
    event?: NewEvent & { at: string };
    deferred?: DeferredEvent & { at: string };
  };
  if (typeof r?.key !== 'string') return null;
  if (r.event) return { key: r.key, event: { ...r.event, at: new Date(r.event.at) } };
  if (r.deferred) return { key: r.key, deferred: { ...r.deferred, at: new Date(r.deferred.at) } };
  return null;
}

export interface EventBufferOptions {
  /** Flush as soon as this many events wait. */
  maxBatch?: number;
  /** Flush at most this long after the first waiting event. */
  intervalMs?: number;
  /**
   * Past this many waiting events (the database is down), the oldest are dropped and counted.
   * Not with a spool: there every acknowledged event is kept until it is stored.
   */
  maxQueued?: number;
  logger?: Logger;
  /** Runs after each batch is stored (conversion attribution); its failure loses no event. */
  afterWrite?: (sql: Db, events: NewEvent[]) => Promise<unknown>;
  /** The local journal that makes an acknowledged event survive a crash (the Node server's). */
  spool?: EventSpool;
}

/**
 * Open and click events are written in batches so that a burst of pixel fetches costs a few
 * multi-row inserts, not one transaction each, and a slow database never holds a tracking
 * request: the request returns once the event is queued (and, with a spool, journaled on local
 * disk). `flush()` drains everything queued so far (tests and shutdown call it); flushes never
 * overlap. Every event has a key, so a batch written twice (a reply lost when PostgreSQL
 * restarted, a spool replayed after a crash) is stored once.
 */
export class EventBuffer {
  private queue: Entry[] = [];
  private resolver: DeferredResolver | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly intervalMs: number;
  private readonly maxQueued: number;
  /** Events dropped because the queue overflowed while the database could not take them. */
  dropped = 0;
  written = 0;

  constructor(
    private readonly sql: Db,
    private readonly options: EventBufferOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.intervalMs = options.intervalMs ?? 200;
    this.maxQueued = options.maxQueued ?? 100_000;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues an event; with a spool, the promise says it is journaled (answer after it). */
  push(event: NewEvent): Promise<void> | undefined {
    return this.enqueue({ key: event.event_key ?? newEventKey(event.at.getTime()), event });
  }

  /** Keeps an event whose message could not be read; it is resolved when the buffer flushes. */
  pushDeferred(deferred: DeferredEvent): Promise<void> | undefined {
    return this.enqueue({ key: newEventKey(deferred.at.getTime()), deferred });
  }

  /** How deferred events become contact events (the tracker sets it). */
  setResolver(resolver: DeferredResolver): void {
    this.resolver = resolver;
  }

  /** Takes over the events a previous process journaled and did not store (see EventSpool). */
  adoptSpooled(records: unknown[]): number {
    let adopted = 0;
    for (const record of records) {
      const entry = entryFromRecord(record);
      if (entry) {
        this.queue.push(entry);
        adopted++;
      }
    }
    return adopted;
  }

  private enqueue(entry: Entry): Promise<void> | undefined {
    // Journaled before the request is answered: the acknowledgement means it is on disk.
    const journaled = this.options.spool?.append(entry);
    this.queue.push(entry);
    if (!this.options.spool && this.queue.length > this.maxQueued) {
      const excess = this.queue.length - this.maxQueued;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.queue.length >= this.maxBatch) void this.flush();
    else if (!this.timer) this.schedule(this.intervalMs);
    return journaled;
  }

  /** Writes every event queued before the call; resolves when they are stored (or failed and re-queued). */
  flush(): Promise<void> {
    this.clearTimer();
    this.running = this.running.then(() => this.drain());
    return this.running;
  }

  private schedule(ms: number): void {
    const timer = setTimeout(() => void this.flush(), ms);
    // A pending flush must not keep a CLI process or a test worker alive.
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async drain(): Promise<void> {
    // Everything journaled so far is in the queue: once the queue is empty, it is all stored, so
    // the segments sealed here (the current one, once it is big enough) can be deleted then.
    this.options.spool?.rotate();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let events: NewEvent[];
      try {
        events = await this.materialize(batch);
        await insertEvents(this.sql, events);
        this.written += events.length;
      } catch (error) {
        // Keep the events for the next flush; the overflow rule bounds memory if this persists.
        this.queue.unshift(...batch);
        this.options.logger?.error({ err: error, events: batch.length }, 'tracking events not written');
        if (!this.timer) this.schedule(this.intervalMs * 5);
        return;
      }
      await this.options.afterWrite?.(this.sql, events).catch((error: unknown) => {
        this.options.logger?.error(
          { err: error, events: events.length },
          'attribution after tracking events failed',
        );
      });
    }
    this.options.spool?.release();
  }

  /** The contact events of a batch: deferred ones resolved now (a failure keeps the batch). */
  private async materialize(batch: Entry[]): Promise<NewEvent[]> {
    const deferred = batch.filter((e) => e.deferred !== undefined);
    const resolved =
      deferred.length > 0 && this.resolver
        ? await this.resolver(deferred.map((e) => e.deferred!))
        : deferred.map(() => null);
    const byKey = new Map(deferred.map((e, i) => [e.key, resolved[i] ?? null]));
    const events: NewEvent[] = [];
    for (const entry of batch) {
      const event = entry.deferred ? byKey.get(entry.key) : entry.event;
      if (event) events.push({ ...event, event_key: entry.key });
    }
    return events;
  }

  /** Flushes what is queued and stops the timer (call before closing the pool). */
  async close(): Promise<void> {
    await this.flush();
    this.clearTimer();
    // Everything journaled is stored: the current segment goes too, so the next start replays nothing.
    if (this.queue.length === 0 && this.options.spool) {
      this.options.spool.rotate(true);
      this.options.spool.release();
    }
  }
}

const buffers = new WeakMap<AppDeps, EventBuffer>();

/** The one event buffer of an app's dependencies, created on first use. */
export function trackingBuffer(deps: AppDeps): EventBuffer {
  let buffer = buffers.get(deps);
  if (!buffer) {
    buffer = new EventBuffer(deps.sql, {
      logger: deps.logger,
      afterWrite: attributeStoredTouches,
      ...(deps.trackingSpool ? { spool: deps.trackingSpool } : {}),
    });
    buffers.set(deps, buffer);
  }
  return buffer;
}

/** Writes every queued open and click now: tests call it, and shutdown before closing the pool. */
export async function flushTrackingEvents(deps: AppDeps): Promise<void> {
  await buffers.get(deps)?.close();
}
