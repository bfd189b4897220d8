import type { DefaultJobOptions } from 'bullmq';

/** Queue names. A throttled campaign gets its own send queue so its rate limit binds only it. */
export const QUEUES = {
  planner: 'planner',
  send: 'send',
} as const;

const THROTTLED_SEND = /^send-c(\d+)$/;

/** The send queue of a campaign: the shared `send`, or `send-c{id}` when it has a throttle. */
export function sendQueueFor(campaign: { id: number; throttle_per_second: number | null }): string {
  return campaign.throttle_per_second ? `send-c${campaign.id}` : QUEUES.send;
}

/** The campaign a throttled send queue belongs to, or null. */
export function campaignOfSendQueue(name: string): number | null {
  const match = THROTTLED_SEND.exec(name);
  return match ? Number(match[1]) : null;
}

/** The BullMQ key prefix: `QUEUE_PREFIX` lets tests and benches share a Redis without meeting. */
export function queuePrefix(env: Record<string, string | undefined> = process.env): string {
  return env.QUEUE_PREFIX || 'offerflow';
}

/**
 * Job defaults. Finished jobs are removed so that the reconciler can enqueue a message again
 * under the same job id (BullMQ ignores an add whose id still exists); the messages table, not
 * Redis, is the record of what happened. A 4xx SMTP reply retries with exponential backoff.
 */
export function jobOptionsFor(queue: string): DefaultJobOptions | undefined {
  if (queue === QUEUES.send || campaignOfSendQueue(queue) !== null) {
    return {
      attempts: 10,
      backoff: { type: 'exponential', delay: 2000, jitter: 0.3 },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }
  if (queue === QUEUES.planner) {
    return {
      attempts: 5,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }
  return undefined;
}
