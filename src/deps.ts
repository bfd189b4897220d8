import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Sql } from './db/sql.js';
import type { SnsClient } from './inbound/webhooks/sns.js';
import type { RedisConnection } from './queue/connection.js';
import type { EventSpool } from './tracking/event-spool.js';

/** A job to put on a queue: the Node app hands it to BullMQ; the Workers build leaves it to the outbox. */
export interface JobRequest {
  name: string;
  data: Record<string, unknown>;
  opts?: { jobId?: string; delay?: number; priority?: number; attempts?: number };
}

export interface JobDispatcher {
  enqueue(queue: string, jobs: JobRequest[]): Promise<void>;
  /** Of these job ids, those with no job in the queue (any state); absent where it cannot tell. */
  missing?(queue: string, jobIds: readonly string[]): Promise<string[]>;
  /**
   * Runs these delayed jobs now; returns the ids with no job at all (to enqueue afresh). Absent
   * where it cannot tell (the edge): the caller enqueues them all, a no-op for live ids.
   */
  promote?(queue: string, jobIds: readonly string[]): Promise<string[]>;
  /** Bounded hand-over (back-pressure); absent where there is no Redis: everything is handed over. */
  window?: SendWindowStore;
}

/** Which jobs of a group (a campaign) were handed over and still live, and how far hand-over got. */
export interface SendWindowStore {
  /** The group's job ids still to run or running in `queue`; the others leave the group. */
  live(queue: string, group: string): Promise<Set<string>>;
  add(group: string, jobIds: readonly string[]): Promise<void>;
  cursor(group: string): Promise<number | null>;
  setCursor(group: string, id: number | null): Promise<void>;
  /** Takes the group's lock for `ms`; the release function, or null when another holds it. */
  lock(group: string, ms: number): Promise<(() => Promise<void>) | null>;
  clear(group: string): Promise<void>;
}

/** Everything the app and the domain functions need, built once by an entry point and passed in. */
export interface AppDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Redis for health checks and queue access; absent on the edge. */
  redis?: RedisConnection;
  jobs?: JobDispatcher;
  metrics?: Registry;
  clock: () => Date;
  /** The Node server's local journal of acknowledged opens and clicks (absent in tests and on the edge). */
  trackingSpool?: EventSpool;
  /** Fetches SNS signing certificates (the SES webhook); a fetching, caching one when absent. */
  sns?: SnsClient;
}
