import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Sql } from './db/sql.js';
import type { SnsClient } from './inbound/webhooks/sns.js';
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
}

/** Everything the app and the domain functions need, built once by an entry point and passed in. */
export interface AppDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Redis for health checks and queue access; absent on the edge. */
  redis?: Redis;
  jobs?: JobDispatcher;
  metrics?: Registry;
  clock: () => Date;
  /** The Node server's local journal of acknowledged opens and clicks (absent in tests and on the edge). */
  trackingSpool?: EventSpool;
  /** Fetches SNS signing certificates (the SES webhook); a fetching, caching one when absent. */
  sns?: SnsClient;
}
