import type { Db } from '../db/sql.js';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES, sendQueueFor } from '../queue/queues.js';
import { markEnqueued, unsentMessageIds } from './ledger.js';

export interface SendJobData {
  message_id: number;
  campaign_id: number | null;
}

/** The job id of a message's send job (BullMQ refuses all-digit custom ids). */
export const sendJobId = (messageId: number) => `m${messageId}`;

/** Send jobs, job id = message id: adding one whose job still lives is a no-op in BullMQ. */
export function sendJobs(campaignId: number | null, messageIds: readonly number[]): JobRequest[] {
  return messageIds.map((id) => ({
    name: 'send',
    data: { message_id: id, campaign_id: campaignId } satisfies SendJobData,
    opts: { jobId: sendJobId(id) },
  }));
}

/** Send jobs of automated messages: job id = message id, delayed until the row's send_at. */
export function delayedSendJobs(
  messages: readonly { id: number; send_at: Date | null }[],
  now: Date,
): JobRequest[] {
  return messages.map((m) => {
    const delay = m.send_at ? Math.max(0, m.send_at.getTime() - now.getTime()) : 0;
    return {
      name: 'send',
      data: { message_id: m.id, campaign_id: null } satisfies SendJobData,
      opts: { jobId: sendJobId(m.id), ...(delay > 0 ? { delay } : {}) },
    };
  });
}

/**
 * Hands automated messages (queued rows with a send_at) to the shared send queue, each job
 * delayed until its row is due, and notes them enqueued.
 */
export async function enqueueDelayedSends(
  sql: Db,
  jobs: JobDispatcher,
  messages: readonly { id: number; send_at: Date | null }[],
  now: Date,
): Promise<void> {
  if (messages.length === 0) return;
  await jobs.enqueue(QUEUES.send, delayedSendJobs(messages, now));
  await markEnqueued(
    sql,
    messages.map((m) => m.id),
  );
}

/**
 * Enqueues a campaign's rows still queued or sending (all, or only those idle for
 * `idleSeconds`), page by page, and notes when. Returns how many were handed over. With
 * `onlyMissing` (the reconciler), rows whose job is still in the queue are left alone: neither
 * re-added nor written, so the reconciler never mass-updates rows that senders are working on.
 */
export async function enqueueUnsent(
  sql: Db,
  jobs: JobDispatcher,
  campaign: { id: number; throttle_per_second: number | null },
  options: { idleSeconds?: number; customerIds?: number[]; pageSize?: number; onlyMissing?: boolean } = {},
): Promise<number> {
  const queue = sendQueueFor(campaign);
  let afterId = 0;
  let total = 0;
  for (;;) {
    const ids = await unsentMessageIds(sql, campaign.id, {
      afterId,
      limit: options.pageSize ?? 5000,
      ...(options.customerIds ? { customerIds: options.customerIds } : {}),
      ...(options.idleSeconds !== undefined ? { idleSeconds: options.idleSeconds } : {}),
    });
    if (ids.length === 0) return total;
    afterId = ids[ids.length - 1]!;
    const handOver =
      options.onlyMissing && jobs.missing
        ? (await jobs.missing(queue, ids.map(sendJobId))).map((jobId) => Number(jobId.slice(1)))
        : ids;
    if (handOver.length > 0) {
      await jobs.enqueue(queue, sendJobs(campaign.id, handOver));
      await markEnqueued(sql, handOver);
    }
    total += handOver.length;
    if (options.customerIds) return total;
  }
}
