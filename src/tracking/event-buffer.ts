import type { Logger } from 'pino';
import { attributeStoredTouches } from '../conversions/attribute.js';
import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { insertEvents, type NewEvent } from './store.js';

export interface EventBufferOptions {
  /** Flush as soon as this many events wait. */
  maxBatch?: number;
  /** Flush at most this long after the first waiting event. */
  intervalMs?: number;
  /** Past this many waiting events (the database is down), the oldest are dropped and counted. */
  maxQueued?: number;
  logger?: Logger;
  /** Runs after each batch is stored (conversion attribution); its failure loses no event. */
  afterWrite?: (sql: Db, events: NewEvent[]) => Promise<unknown>;
}

/**
 * Open and click events are written in batches so that a burst of pixel fetches costs a few
 * multi-row inserts, not one transaction each, and a slow database never holds a tracking
 * request: the request returns once the event is queued. `flush()` drains everything queued
 * so far (tests and shutdown call it); flushes never overlap.
 */
export class EventBuffer {
  private queue: NewEvent[] = [];
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

  push(event: NewEvent): void {
    this.queue.push(event);
    if (this.queue.length > this.maxQueued) {
      const excess = this.queue.length - this.maxQueued;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    if (this.queue.length >= this.maxBatch) void this.flush();
    else if (!this.timer) this.schedule(this.intervalMs);
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
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await insertEvents(this.sql, batch);
        this.written += batch.length;
      } catch (error) {
        // Keep the events for the next flush; the overflow rule bounds memory if this persists.
        this.queue.unshift(...batch);
        this.options.logger?.error({ err: error, events: batch.length }, 'tracking events not written');
        if (!this.timer) this.schedule(this.intervalMs * 5);
        return;
      }
      await this.options.afterWrite?.(this.sql, batch).catch((error: unknown) => {
        this.options.logger?.error(
          { err: error, events: batch.length },
          'attribution after tracking events failed',
        );
      });
    }
  }

  /** Flushes what is queued and stops the timer (call before closing the pool). */
  async close(): Promise<void> {
    await this.flush();
    this.clearTimer();
  }
}

const buffers = new WeakMap<AppDeps, EventBuffer>();

/** The one event buffer of an app's dependencies, created on first use. */
export function trackingBuffer(deps: AppDeps): EventBuffer {
  let buffer = buffers.get(deps);
  if (!buffer) {
    buffer = new EventBuffer(deps.sql, { logger: deps.logger, afterWrite: attributeStoredTouches });
    buffers.set(deps, buffer);
  }
  return buffer;
}

/** Writes every queued open and click now: tests call it, and shutdown before closing the pool. */
export async function flushTrackingEvents(deps: AppDeps): Promise<void> {
  await buffers.get(deps)?.close();
}
