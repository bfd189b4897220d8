import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Db } from '../src/db/sql.js';
import type { JobDispatcher } from '../src/deps.js';
import { QUEUES } from '../src/queue/queues.js';
import { type AttemptResult, attemptDelivery, type DeliverDeps } from '../src/webhooks/deliver.js';
import { selectDueDeliveries } from '../src/webhooks/store.js';

export interface WebhookJobData {
  delivery_id: number;
}

/** The webhook queue's processor: one attempt at one delivery (the row says what to do). */
export const webhookProcessor =
  (deps: DeliverDeps) =>
  (job: Job<WebhookJobData>): Promise<AttemptResult> =>
    attemptDelivery(deps, job.data.delivery_id);

/**
 * Hands due deliveries to the queue. The job id names the delivery and its attempt, so a
 * delivery already queued is not queued twice, and after Redis lost its jobs the next poll
 * queues them again: PostgreSQL, not Redis, holds what is still to be delivered.
 */
export async function enqueueDueDeliveries(
  deps: { sql: Db; jobs: JobDispatcher },
  limit = 1000,
): Promise<number> {
  const due = await selectDueDeliveries(deps.sql, limit);
  if (due.length === 0) return 0;
  await deps.jobs.enqueue(
    QUEUES.webhook,
    due.map((d) => ({
      name: 'deliver',
      data: { delivery_id: d.id } satisfies WebhookJobData as unknown as Record<string, unknown>,
      opts: { jobId: `d${d.id}-a${d.attempts}` },
    })),
  );
  return due.length;
}

/** Polls for due deliveries every `intervalMs` until stopped. */
export function startWebhookPoller(
  deps: { sql: Db; jobs: JobDispatcher; logger: Pick<Logger, 'error'> },
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = async () => {
    // A full page means more are due: poll again at once.
    while (!stopped && (await enqueueDueDeliveries(deps)) >= 1000) {}
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
