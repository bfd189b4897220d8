import type { Queue } from 'bullmq';
import type { JobDispatcher } from '../deps.js';
import type { JobToPurge } from './erase.js';

/** A dispatcher that can hand out its BullMQ queues (the Node one; the edge build has none). */
interface QueueSource {
  queue(name: string): Queue;
}

const hasQueues = (jobs: JobDispatcher | undefined): jobs is JobDispatcher & QueueSource =>
  typeof (jobs as Partial<QueueSource> | undefined)?.queue === 'function';

/**
 * Removes the send jobs of cancelled messages from their queues. A job that is running right now
 * is locked and stays: the sender then finds its row cancelled and sends nothing. Without a
 * queue (the edge build) there is nothing to purge: jobs only exist once the reconciler runs,
 * and it enqueues queued rows only. Returns how many jobs were removed.
 */
export async function purgeJobs(
  jobs: JobDispatcher | undefined,
  list: readonly JobToPurge[],
): Promise<number> {
  if (!hasQueues(jobs) || list.length === 0) return 0;
  let removed = 0;
  for (const { queue, jobId } of list) {
    const job = await jobs.queue(queue).getJob(jobId);
    if (!job) continue;
    try {
      await job.remove();
      removed++;
    } catch {
      // Locked by a worker mid-send: the cancelled row stops it (see above).
    }
  }
  return removed;
}
