import { DelayedError, type Job } from 'bullmq';
import type { Sender, SendOutcome } from '../src/messages/send.js';
import type { SendJobData } from '../src/messages/send-jobs.js';

/**
 * The send queues' processor. A temporary failure throws, so BullMQ retries with the queue's
 * backoff; on the last attempt it fails the row instead. Job id = message id.
 */
export const senderProcessor =
  (sender: Sender, topUp?: (campaignId: number) => Promise<unknown>) =>
  async (job: Job<SendJobData>, token?: string): Promise<SendOutcome> => {
    const id = messageIdOf(job);
    if (id === null) return { outcome: 'skipped', reason: `job ${job.id} names no message` };
    const attempts = job.opts.attempts ?? 1;
    const outcome = await sender.send(id, { finalAttempt: job.attemptsMade + 1 >= attempts });
    if (outcome.outcome === 'held') {
      // Held by the contact policy: the same job (same id, attempts untouched) waits until the
      // quiet hours end; the reconciler wakes it early if the clock says so (src/policy/wake.ts).
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    }
    // About one job per quarter window carries the flag: the campaign's next rows follow it.
    // A failed top-up is the reconciler's to repeat; the message itself is settled.
    if (topUp && job.data?.top_up && job.data.campaign_id) await topUp(job.data.campaign_id).catch(() => 0);
    return outcome;
  };

/**
 * The message a send job is for. Its id says it (`m<id>`) even when its data does not: a job
 * that was in flight when Redis was wiped can come back as a hash holding only the fields
 * BullMQ's scripts wrote afterwards, and an undefined id must never reach a query.
 */
export function messageIdOf(job: Pick<Job<SendJobData>, 'id' | 'data'>): number | null {
  const fromData = job.data?.message_id;
  if (Number.isSafeInteger(fromData) && fromData > 0) return fromData;
  const match = /^m(\d+)$/.exec(job.id ?? '');
  return match ? Number(match[1]) : null;
}
