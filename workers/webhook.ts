import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Db } from '../src/db/sql.js';
import type { JobDispatcher } from '../src/deps.js';
import { QUEUES } from '../src/queue/queues.js';
import { type AttemptResult, attemptDeliveries, type DeliverDeps } from '../src/webhooks/deliver.js';
import { selectDueDeliveries } from '../src/webhooks/store.js';

export interface WebhookJobData {
  /** The deliveries this job attempts once each (a job queued before batching names one). */
  delivery_ids?: number[];
  delivery_id?: number;
}

/** Deliveries per job: claimed and recorded in one statement each, POSTed at once. */
export const WEBHOOK_BATCH = 10;

/** Jobs run at once per WEBHOOK_BATCH of POSTs allowed in flight (see queue-workers). */
export const WEBHOOK_JOB_OVERLAP = 3;

/** The webhook queue's processor: one attempt at each delivery of the job (the rows say what to do). */
export const webhookProcessor =
  (deps: DeliverDeps) =>
  async (job: Job<WebhookJobData>): Promise<Record<string, AttemptResult>> => {
    const ids = job.data.delivery_ids ?? (job.data.delivery_id ? [job.data.delivery_id] : []);
    return Object.fromEntries(await attemptDeliveries(deps, ids));
  };

/**
 * Hands every due delivery that may go out now to the queue, page by page, WEBHOOK_BATCH to a
 * job. The job id names its first delivery, that one's attempt and the count, so a page polled
 * again before its jobs ran is not queued twice (a delivery that lands in two jobs all the same
 * is claimed by one), and after Redis lost its jobs the next poll queues them again:
 * PostgreSQL, not Redis, holds what is still to be delivered.
 */
export async function enqueueDueDeliveries(
  deps: { sql: Db; jobs: JobDispatcher },
  pageSize = 1000,
): Promise<number> {
  let after: { at: Date; id: number } | undefined;
  let total = 0;
  for (;;) {
    const due = await selectDueDeliveries(deps.sql, pageSize, after);
    if (due.length === 0) return total;
    const jobs = [];
    for (let i = 0; i < due.length; i += WEBHOOK_BATCH) {
      const batch = due.slice(i, i + WEBHOOK_BATCH);
      jobs.push({
        name: 'deliver',
        data: { delivery_ids: batch.map((d) => d.id) } satisfies WebhookJobData as unknown as Record<
          string,
          unknown
        >,
        opts: { jobId: `d${batch[0]!.id}-a${batch[0]!.attempts}-n${batch.length}` },
      });
    }
    await deps.jobs.enqueue(QUEUES.webhook, jobs);
    total += due.length;
    if (due.length < pageSize) return total;
    const last = due[due.length - 1]!;
    after = { at: last.next_attempt_at, id: last.id };
  }
}

/**
 * Polls for due deliveries every `intervalMs` until stopped. With `backlog` (the jobs waiting
 * in the queue) and `enough`, a poll is skipped while at least `enough` jobs still wait: each
 * poll reads every due delivery and re-queues those already waiting (as jobs of other ids when
 * the pages shifted), which at 100,000 deliveries cost more than the deliveries themselves.
 * Redis losing its jobs empties the queue, so the next poll queues them again.
 */
export function startWebhookPoller(
  deps: {
    sql: Db;
    jobs: JobDispatcher;
    logger: Pick<Logger, 'error'>;
    backlog?: () => Promise<number>;
    enough?: number;
  },
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (deps.backlog && deps.enough !== undefined && (await deps.backlog()) >= deps.enough) return;
    await enqueueDueDeliveries(deps);
  };
  const timer = setInterval(() => {
    running = running
      .then(tick)
      .catch((error: unknown) => deps.logger.error({ err: error }, 'webhook poll failed'));
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
