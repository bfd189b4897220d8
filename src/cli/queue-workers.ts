import { parseArgs } from 'node:util';
import { type Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { importProcessor } from '../../workers/import.js';
import {
  JOURNEY_DATE_SCAN_MS,
  JOURNEY_DATE_SCAN_SCHEDULER,
  journeyProcessor,
} from '../../workers/journey.js';
import { plannerProcessor } from '../../workers/planner.js';
import { RANKER_REFRESH_MS, rankerProcessor } from '../../workers/ranker.js';
import { RECOMMENDATIONS_SCHEDULE, recommendationsProcessor } from '../../workers/recommendations.js';
import { startReconciler } from '../../workers/reconciler.js';
import { RETENTION_SCHEDULE, retentionProcessor } from '../../workers/retention.js';
import { senderProcessor } from '../../workers/sender.js';
import { TRIGGER_SCAN_SCHEDULE, TRIGGER_SCAN_SCHEDULER, triggerProcessor } from '../../workers/trigger.js';
import {
  startWebhookPoller,
  WEBHOOK_BATCH,
  WEBHOOK_JOB_OVERLAP,
  webhookProcessor,
} from '../../workers/webhook.js';
import { throttledCampaigns } from '../campaigns/store.js';
import { topUpCampaign } from '../campaigns/top-up.js';
import { type Config, loadConfig } from '../config.js';
import { createSql } from '../db/sql.js';
import { createLogger } from '../logger.js';
import { createSender } from '../messages/send.js';
import { DEFAULT_SEND_BATCH, DEFAULT_SEND_WINDOW, type SendJobData } from '../messages/send-jobs.js';
import { createMailTransport } from '../messages/transport.js';
import { mailPendingOptIns } from '../opt-in/mailer.js';
import { optInPolicy } from '../opt-in/requests.js';
import { createConcurrencyLimit } from '../queue/concurrency.js';
import { assertClusterPrefix, assertNoEviction, createRedis } from '../queue/connection.js';
import { createBullDispatcher } from '../queue/dispatcher.js';
import { STALE_WAITING_MS } from '../queue/job-liveness.js';
import { backoffStrategy, QUEUES, queuePrefix } from '../queue/queues.js';
import { createIdentityResolver } from '../senders/identity.js';
import { inFlightLimit } from '../webhooks/in-flight.js';
import { UsageError } from './usage-error.js';

export const WORKER_ROLES = [
  'planner',
  'sender',
  'reconciler',
  'trigger',
  'import',
  'retention',
  'webhook',
  'ranker',
  'recommendations',
  'journey',
] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

export interface WorkerOptions {
  config: Config;
  roles: readonly WorkerRole[];
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** The workers' clock (the contact policy's quiet hours and local days); tests inject one. */
  clock?: () => Date;
}

export interface RunningWorkers {
  close(): Promise<void>;
}

const num = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);

/**
 * Starts this process's BullMQ workers (the only place `new Worker` happens). Tunables come from
 * the environment: SEND_CONCURRENCY (100), WORKER_LOCK_MS (30000: how soon a killed worker's jobs
 * run again), RECONCILE_INTERVAL_MS (10000), RECONCILE_IDLE_SECONDS (30), SMTP_POOL_SIZE (10),
 * SEND_WINDOW (2000: rows handed over per campaign), SEND_BATCH (50: rows per send job of an unthrottled campaign), JOB_STALE_MS (120000: how long a job may look
 * waiting before its list is checked for it), RANKER_REFRESH_MS (60000), TRIGGER_CONCURRENCY (4), JOURNEY_CONCURRENCY (20), JOURNEY_SWEEP_PAGE (500), JOURNEY_SWEEP_PARALLEL (2), IMPORT_CONCURRENCY (1), WEBHOOK_CONCURRENCY (20), WEBHOOK_POLL_MS (500),
 * QUEUE_PREFIX (offerflow), DKIM_*.
 */
export async function startWorkers(options: WorkerOptions): Promise<RunningWorkers> {
  const env = options.env ?? process.env;
  const { config, roles } = options;
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, 'offerflow-worker');
  const prefix = queuePrefix(env);
  const concurrency = num(env.SEND_CONCURRENCY, 100);
  const lockDuration = num(env.WORKER_LOCK_MS, 30_000);
  const sendWindow = num(env.SEND_WINDOW, DEFAULT_SEND_WINDOW);
  const sendBatch = num(env.SEND_BATCH, DEFAULT_SEND_BATCH);
  const redis = createRedis(config.REDIS_URL);
  try {
    assertClusterPrefix(redis, prefix);
    await assertNoEviction(redis);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const sql = createSql(config.DATABASE_URL, { max: Math.min(20, 4 + Math.ceil(concurrency / 4)) });
  const dispatcher = createBullDispatcher(redis, prefix, {
    staleMs: num(env.JOB_STALE_MS, STALE_WAITING_MS),
  });
  const clock = options.clock ?? (() => new Date());
  const workers = new Map<string, Worker>();
  // Stopped in order: what produces work first, then the workers, then what they use.
  const beforeWorkers: Array<() => Promise<void>> = [];
  const afterWorkers: Array<() => Promise<void>> = [];
  const common = {
    connection: redis,
    prefix,
    lockDuration,
    stalledInterval: Math.max(1000, lockDuration / 2),
    settings: { backoffStrategy },
  };
  const watch = (worker: Worker) => {
    worker.on('failed', (job: Job | undefined, error: Error) =>
      logger.warn(
        { queue: worker.name, job: job?.id, attempts: job?.attemptsMade, err: error.message },
        'job failed',
      ),
    );
    worker.on('error', (error) => logger.error({ queue: worker.name, err: error.message }, 'worker error'));
    return worker;
  };

  if (roles.includes('planner')) {
    const processor = plannerProcessor({ sql, config, jobs: dispatcher, clock, sendWindow, sendBatch });
    workers.set(QUEUES.planner, watch(new Worker(QUEUES.planner, processor, { ...common, concurrency: 2 })));
  }

  if (roles.includes('sender')) {
    const transport = createMailTransport({ ...env, SMTP_URL: config.SMTP_URL });
    const sender = createSender({ sql, config, transport, logger, clock, leaseSeconds: lockDuration / 1000 });
    const processor = senderProcessor(
      sender,
      (id) => topUpCampaign({ sql, jobs: dispatcher, sendWindow, sendBatch }, id),
      {
        enqueue: (queue, jobs) => dispatcher.enqueue(queue, jobs),
        limit: createConcurrencyLimit(concurrency),
      },
    );
    const senderOptions = { ...common, concurrency, maxStalledCount: 10 };
    workers.set(QUEUES.send, watch(new Worker<SendJobData>(QUEUES.send, processor, senderOptions)));
    // A throttled campaign has its own queue; BullMQ's limiter on it holds across every worker
    // process, because the limiter's counter lives in Redis per queue.
    const syncThrottled = async () => {
      const wanted = new Map(
        (await throttledCampaigns(sql)).map((c) => [`send-c${c.id}`, c.throttle_per_second]),
      );
      for (const [name, max] of wanted) {
        if (workers.has(name)) continue;
        const limiter = { max, duration: 1000 };
        workers.set(name, watch(new Worker<SendJobData>(name, processor, { ...senderOptions, limiter })));
      }
      for (const [name, worker] of workers) {
        if (name.startsWith('send-c') && !wanted.has(name)) {
          workers.delete(name);
          await worker.close();
        }
      }
    };
    await syncThrottled();
    const timer = setInterval(() => {
      syncThrottled().catch((error: unknown) => logger.error({ err: error }, 'throttle sync failed'));
    }, 2000);
    beforeWorkers.push(async () => clearInterval(timer));
    // Double opt-in confirmations: an outbox the senders poll (OPT_IN_POLL_MS, 2000).
    let mailing: Promise<unknown> = Promise.resolve();
    const identities = createIdentityResolver({ sql, config });
    const optIns = setInterval(
      () => {
        mailing = mailPendingOptIns({ sql, config, transport, logger, identities }).catch((error: unknown) =>
          logger.error({ err: error }, 'opt-in mailing failed'),
        );
      },
      num(env.OPT_IN_POLL_MS, 2000),
    );
    beforeWorkers.push(async () => {
      clearInterval(optIns);
      await mailing;
    });
    afterWorkers.push(async () => sender.close());
  }

  if (roles.includes('reconciler')) {
    const reconciler = startReconciler(
      {
        sql,
        jobs: dispatcher,
        clock,
        logger,
        idleSeconds: num(env.RECONCILE_IDLE_SECONDS, 30),
        sendWindow,
        sendBatch,
      },
      num(env.RECONCILE_INTERVAL_MS, 10_000),
    );
    beforeWorkers.push(() => reconciler.stop());
  }

  if (roles.includes('trigger')) {
    const processor = triggerProcessor({ sql, jobs: dispatcher, clock, config, logger });
    const options = { ...common, concurrency: num(env.TRIGGER_CONCURRENCY, 4) };
    workers.set(QUEUES.trigger, watch(new Worker(QUEUES.trigger, processor, options)));
    // Upserting the same scheduler id from every worker process keeps exactly one schedule.
    await dispatcher
      .queue(QUEUES.trigger)
      .upsertJobScheduler(TRIGGER_SCAN_SCHEDULER, TRIGGER_SCAN_SCHEDULE, { name: 'scan', data: {} });
  }

  if (roles.includes('journey')) {
    // Journeys' due steps: JOURNEY_CONCURRENCY (20) jobs at once, those running together sharing
    // one transaction; a sweep runs JOURNEY_SWEEP_PARALLEL (2) pages of JOURNEY_SWEEP_PAGE (500).
    const processor = journeyProcessor(
      { sql, jobs: dispatcher, clock, config, logger },
      { pageSize: num(env.JOURNEY_SWEEP_PAGE, 500), parallel: num(env.JOURNEY_SWEEP_PARALLEL, 2) },
    );
    const options = { ...common, concurrency: num(env.JOURNEY_CONCURRENCY, 20) };
    workers.set(QUEUES.journey, watch(new Worker(QUEUES.journey, processor, options)));
    // Entry by a date attribute: one schedule whatever the number of journey workers.
    await dispatcher
      .queue(QUEUES.journey)
      .upsertJobScheduler(
        JOURNEY_DATE_SCAN_SCHEDULER,
        { every: num(env.JOURNEY_DATE_SCAN_MS, JOURNEY_DATE_SCAN_MS) },
        { name: 'date-scan', data: {} },
      );
  }

  if (roles.includes('import')) {
    const processor = importProcessor({
      sql,
      jobs: dispatcher,
      clock,
      triggerMaxAgeHours: config.IMPORT_TRIGGER_MAX_AGE_HOURS,
      optIn: optInPolicy(config),
    });
    const options = { ...common, concurrency: num(env.IMPORT_CONCURRENCY, 1) };
    workers.set(QUEUES.import, watch(new Worker(QUEUES.import, processor, options)));
  }

  if (roles.includes('retention')) {
    const processor = retentionProcessor({ sql, config, clock });
    workers.set(
      QUEUES.retention,
      watch(new Worker(QUEUES.retention, processor, { ...common, concurrency: 1 })),
    );
    await dispatcher
      .queue(QUEUES.retention)
      .upsertJobScheduler('retention', RETENTION_SCHEDULE, { name: 'retention', data: {} });
  }

  if (roles.includes('recommendations')) {
    const processor = recommendationsProcessor({ sql, clock });
    workers.set(
      QUEUES.recommendations,
      watch(new Worker(QUEUES.recommendations, processor, { ...common, concurrency: 1 })),
    );
    await dispatcher
      .queue(QUEUES.recommendations)
      .upsertJobScheduler('recommendations', RECOMMENDATIONS_SCHEDULE, { name: 'refresh', data: {} });
  }

  if (roles.includes('webhook')) {
    // Outbound webhooks: WEBHOOK_CONCURRENCY (20) attempts at once, due ones polled every
    // WEBHOOK_POLL_MS (500) from webhook_deliveries.
    // WEBHOOK_CONCURRENCY counts POSTs in flight; a job carries WEBHOOK_BATCH deliveries. More
    // jobs than those POSTs fill run at once: while some POST, others claim or record theirs in
    // PostgreSQL (with only enough jobs to fill the POSTs, every claim and record left the
    // receivers idle for its round trips).
    const inFlight = num(env.WEBHOOK_CONCURRENCY, 20);
    const processor = webhookProcessor({
      sql,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      retryWindowMs: config.WEBHOOK_RETRY_WINDOW_SECONDS * 1000,
      clock,
      inFlight: inFlightLimit(inFlight),
    });
    const options = {
      ...common,
      concurrency: WEBHOOK_JOB_OVERLAP * Math.max(1, Math.ceil(inFlight / WEBHOOK_BATCH)),
    };
    workers.set(QUEUES.webhook, watch(new Worker(QUEUES.webhook, processor, options)));
    const webhookQueue = dispatcher.queue(QUEUES.webhook);
    const poller = startWebhookPoller(
      {
        sql,
        jobs: dispatcher,
        logger,
        // Polled again once the waiting jobs are down to a few rounds of the worker's.
        backlog: () => webhookQueue.getWaitingCount(),
        enough: 4 * options.concurrency,
      },
      num(env.WEBHOOK_POLL_MS, 500),
    );
    beforeWorkers.push(() => poller.stop());
  }

  if (roles.includes('ranker')) {
    // The learning ranker's posteriors, recomputed every RANKER_REFRESH_MS from impressions and
    // conversions (one run at a time: the recomputation takes an advisory lock).
    const processor = rankerProcessor({ sql, config, clock });
    workers.set(QUEUES.ranker, watch(new Worker(QUEUES.ranker, processor, { ...common, concurrency: 1 })));
    await dispatcher
      .queue(QUEUES.ranker)
      .upsertJobScheduler(
        'ranker',
        { every: num(env.RANKER_REFRESH_MS, RANKER_REFRESH_MS) },
        { name: 'ranker', data: {} },
      );
  }

  logger.info({ roles, prefix, concurrency }, 'workers started');
  return {
    async close() {
      for (const close of beforeWorkers) await close();
      await Promise.all([...workers.values()].map((w) => w.close()));
      for (const close of afterWorkers) await close();
      await dispatcher.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}

/** `offerflow worker [planner|sender|reconciler|trigger|import|retention|webhook|ranker|recommendations|journey …]`: all when none is named. */
export async function worker(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  for (const p of positionals) {
    if (!(WORKER_ROLES as readonly string[]).includes(p)) {
      throw new UsageError(`unknown worker "${p}"; choose among ${WORKER_ROLES.join(', ')}`);
    }
  }
  const roles = positionals.length > 0 ? (positionals as WorkerRole[]) : WORKER_ROLES;
  const running = await startWorkers({ config: loadConfig(), roles });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return 0;
}
