import { randomBytes } from 'node:crypto';
import { type RunningWorkers, startWorkers, type WorkerRole } from '../src/cli/queue-workers.js';
import { type Config, loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createSql, type Sql } from '../src/db/sql.js';
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from '../src/dev/smtp-sink.js';
import { createRedis, type RedisConnection } from '../src/queue/connection.js';
import { type BullDispatcher, createBullDispatcher } from '../src/queue/dispatcher.js';
import { installDefaultTemplates } from '../src/templates/render.js';
import { ADMIN_URL, urlFor } from '../test/helpers/test-db.js';

// What the end-to-end benches share: a database of their own (migrated, default templates), an
// SMTP sink, a queue prefix, Redis and the dispatcher, the worker roles started in this process
// as `offerflow worker <roles>` starts them, the lateness percentiles, and the teardown.

export interface BenchStack {
  sql: Sql;
  url: string;
  sink: SmtpSink;
  prefix: string;
  /** The environment the worker roles read (DATABASE_URL, SMTP_URL, QUEUE_PREFIX, silent logs). */
  env: Record<string, string>;
  config: Config;
  redis: RedisConnection;
  jobs: BullDispatcher;
  /** The first default template's id (version 1). */
  templateId: number;
  /** Starts worker roles in this process, with extra environment (concurrencies). */
  startRoles(roles: WorkerRole[], env?: Record<string, string>): Promise<RunningWorkers>;
  /** Closes the workers, queues, Redis, the sink and the pool, and drops the database. */
  close(): Promise<void>;
}

/** Sets up a bench's stack; `tag` names its database and queue prefix (`bench_<tag>_…`). */
export async function startBenchStack(tag: string, sinkOptions: SmtpSinkOptions = {}): Promise<BenchStack> {
  const name = `offerflow_bench_${tag}_${randomBytes(4).toString('hex')}`;
  const admin = createSql(ADMIN_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  const url = urlFor(name);
  const sql = createSql(url, { max: 10 });
  const sink = await startSmtpSink({ outboxDir: null, ...sinkOptions });
  const prefix = `bench_${tag}_${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: url,
    SMTP_URL: sink.url,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env);
  const redis = createRedis(config.REDIS_URL);
  const jobs = createBullDispatcher(redis, prefix);
  const workers: RunningWorkers[] = [];
  const close = async () => {
    for (const w of workers) await w.close();
    await jobs.close();
    redis.disconnect();
    await sink.close();
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end({ timeout: 5 });
  };
  try {
    await migrate(sql);
    await installDefaultTemplates(sql);
  } catch (error) {
    await close();
    throw error;
  }
  const [template] = await sql<{ id: number }[]>`select id from templates order by id limit 1`;
  return {
    sql,
    url,
    sink,
    prefix,
    env,
    config,
    redis,
    jobs,
    templateId: template!.id,
    async startRoles(roles, extra = {}) {
      const running = await startWorkers({ config, roles, env: { ...env, ...extra } });
      workers.push(running);
      return running;
    },
    close,
  };
}

/** The q-quantile of sorted values (the order statistic at or above q). */
export const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Median and 99th percentile of latencies or lateness in milliseconds, to a tenth. */
export function percentiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    p50: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1)!),
  };
}
