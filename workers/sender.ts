import { DelayedError, type Job } from 'bullmq';
import type { JobRequest } from '../src/deps.js';
import type { Sender, SendOutcome } from '../src/messages/send.js';
import { heldSendJob, type SendJobData } from '../src/messages/send-jobs.js';

/** What a batch job did with its rows, by outcome. */
export interface BatchOutcome {
  outcome: 'batch';
  counts: Partial<Record<SendOutcome['outcome'], number>>;
}

export interface BatchDeps {
  /** Adds jobs to a queue: a held row of a batch gets its own delayed job. */
  enqueue: (queue: string, jobs: JobRequest[]) => Promise<void>;
  /** Runs a batch's send within this process's send concurrency (shared by every batch). */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * The send queues' processor. A temporary failure throws, so BullMQ retries with the queue's
 * backoff; on the last attempt it fails the row instead. A message's job (id `m<id>`) sends its
 * row; a batch job (`b…`, a campaign's rows) sends each of its rows as that job would, within
 * the process's concurrency, and when any of them must be tried again throws once they all
 * settled: the retry claims again only what is still unsent, the rest is skipped by its claim.
 */
export const senderProcessor =
  (sender: Sender, topUp?: (campaignId: number) => Promise<unknown>, batch?: BatchDeps) =>
  async (job: Job<SendJobData>, token?: string): Promise<SendOutcome | BatchOutcome> => {
    const attempts = job.opts.attempts ?? 1;
    const finalAttempt = job.attemptsMade + 1 >= attempts;
    const rows = messageIdsOf(job);
    let result: SendOutcome | BatchOutcome;
    if (rows !== null) {
      if (!batch) throw new Error(`batch job ${job.id} reached a sender without batch support`);
      result = await sendBatch(sender, batch, job, rows, finalAttempt);
    } else {
      const id = messageIdOf(job);
      if (id === null) return { outcome: 'skipped', reason: `job ${job.id} names no message` };
      const outcome = await sender.send(id, { finalAttempt });
      if (outcome.outcome === 'held') {
        // Held by the contact policy: the same job (same id, attempts untouched) waits until the
        // quiet hours end; the reconciler wakes it early if the clock says so (src/policy/wake.ts).
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      }
      result = outcome;
    }
    // About one job per quarter window carries the flag: the campaign's next rows follow it.
    // A failed top-up is the reconciler's to repeat; the messages themselves are settled.
    if (topUp && job.data?.top_up && job.data.campaign_id) await topUp(job.data.campaign_id).catch(() => 0);
    return result;
  };

async function sendBatch(
  sender: Sender,
  deps: BatchDeps,
  job: Job<SendJobData>,
  ids: number[],
  finalAttempt: boolean,
): Promise<BatchOutcome> {
  const settled = await Promise.allSettled(
    ids.map((id) => deps.limit(() => sender.send(id, { finalAttempt }))),
  );
  const counts: BatchOutcome['counts'] = {};
  const held: JobRequest[] = [];
  let error: unknown = null;
  for (const [i, s] of settled.entries()) {
    if (s.status === 'rejected') {
      error ??= s.reason;
      counts.retry = (counts.retry ?? 0) + 1;
      continue;
    }
    counts[s.value.outcome] = (counts[s.value.outcome] ?? 0) + 1;
    if (s.value.outcome === 'held') held.push(heldSendJob(ids[i]!, job.data.campaign_id, s.value.delayMs));
  }
  // Before a retry is thrown: a held row must have its job even if this batch never runs again.
  if (held.length > 0) await deps.enqueue(job.queueName, held);
  if (error !== null) throw error;
  return { outcome: 'batch', counts };
}

/**
 * The rows of a batch job, or null for a message's job. A batch job whose data a wiped Redis
 * lost names no rows: it does nothing, and the reconciler's top-up hands its rows over again.
 */
export function messageIdsOf(job: Pick<Job<SendJobData>, 'id' | 'data'>): number[] | null {
  if (!/^b/.test(job.id ?? '')) return null;
  const ids = job.data?.message_ids;
  return Array.isArray(ids) ? ids.filter((id) => Number.isSafeInteger(id) && id > 0) : [];
}

/**
 * The message a send job is for. Its id says it (`m<id>`) even when its data does not: a job
 * that was in flight when Redis was wiped can come back as a hash holding only the fields
 * BullMQ's scripts wrote afterwards, and an undefined id must never reach a query.
 */
export function messageIdOf(job: Pick<Job<SendJobData>, 'id' | 'data'>): number | null {
  const fromData = job.data?.message_id;
  if (Number.isSafeInteger(fromData) && (fromData ?? 0) > 0) return fromData!;
  const match = /^m(\d+)$/.exec(job.id ?? '');
  return match ? Number(match[1]) : null;
}
