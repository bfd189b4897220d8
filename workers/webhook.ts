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

/** Where the poller's next page starts: after this (next_attempt_at, id); none: at the start. */
export type PollCursor = { at: Date; id: number } | undefined;

/**
 * Hands one page of the due deliveries that may go out now to the queue, WEBHOOK_BATCH to a
 * job, and says where the next page starts: after its last row, or at the start again once a
 * page came back short (the end of what is due). One page, not every due delivery: a poll
 * costs the same with 1,000 or 1,000,000 waiting. The job id names its first delivery, that
 * one's attempt and the count, so a page polled again before its jobs ran is not queued twice
 * (a delivery that lands in two jobs all the same is claimed by one). Whatever the cursor
 * skipped (jobs Redis lost, a delivery written with an older timestamp) is queued again once
 * the cursor is back at the start: PostgreSQL, not Redis, holds what is still to be delivered.
 */
export async function enqueueDuePage(
  deps: { sql: Db; jobs: JobDispatcher },
  after: PollCursor,
  pageSize = 1000,
): Promise<{ queued: number; next: PollCursor }> {
  const due = await selectDueDeliveries(deps.sql, pageSize, after);
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
  if (jobs.length > 0) await deps.jobs.enqueue(QUEUES.webhook, jobs);
  const last = due.at(-1);
  return {
    queued: due.length,
    next: due.length < pageSize || !last ? undefined : { at: last.next_attempt_at, id: last.id },
  };
}

/**
 * Polls one page of due deliveries every `intervalMs` until stopped, each after the last. With
 * `backlog` (the jobs waiting in the queue) and `enough`, a poll is skipped while at least
 * `enough` jobs still wait: deliveries enough for the worker are queued, and a page read again
 * from the start would re-queue those still waiting. Redis losing its jobs empties the queue,
 * so the polls go on and queue them again.
 */
export function startWebhookPoller(
  deps: {
    sql: Db;
    jobs: JobDispatcher;
    logger: Pick<Logger, 'error'>;
    backlog?: () => Promise<number>;
    enough?: number;
    pageSize?: number;
  },
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let cursor: PollCursor;
  const tick = async () => {
    if (stopped) return;
    if (deps.backlog && deps.enough !== undefined && (await deps.backlog()) >= deps.enough) return;
    cursor = (await enqueueDuePage(deps, cursor, deps.pageSize)).next;
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
