import type { Job } from 'bullmq';
import type { SendJobData } from '../src/campaigns/jobs.js';
import type { Sender, SendOutcome } from '../src/campaigns/send.js';

/**
 * The send queues' processor. A temporary failure throws, so BullMQ retries with the queue's
 * backoff; on the last attempt it fails the row instead. Job id = message id.
 */
export const senderProcessor =
  (sender: Sender) =>
  (job: Job<SendJobData>): Promise<SendOutcome> => {
    const attempts = job.opts.attempts ?? 1;
    return sender.send(job.data.message_id, { finalAttempt: job.attemptsMade + 1 >= attempts });
  };
