import type { DefaultJobOptions } from 'bullmq';

/**
 * Every queue's name, here so that infrastructure knows no domain: the planner (campaign
 * planning, A/B decisions and send-outs), send (every email; a throttled campaign gets its own
 * `send-c{id}` so its rate limit binds only it), trigger (events for the automations), import
 * (committed CSV imports), retention (the nightly clean-up), webhook (outbound deliveries), ranker (the
 * learning ranker's statistics, recomputed on a schedule) and recommendations (product feeds, after
 * imports and nightly).
 */
export const QUEUES = {
  planner: 'planner',
  send: 'send',
  trigger: 'trigger',
  import: 'import',
  retention: 'retention',
  webhook: 'webhook',
  ranker: 'ranker',
  recommendations: 'recommendations',
  journey: 'journey',
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

/** The send queues' backoff type: exponential from `delay`, jittered, never above SEND_BACKOFF_CAP_MS. */
export const CAPPED_BACKOFF = 'capped-exponential';
export const SEND_BACKOFF_CAP_MS = 30_000;

/**
 * BullMQ's custom backoff strategy (give it to every Worker as `settings.backoffStrategy`).
 * Plain exponential from 2 s reaches 8 minutes by the 9th try, which left a few messages of a
 * campaign waiting minutes after the rest; capped, a 4xx or a busy row is tried again within
 * 30 s (±30 %), and ten attempts still span about three minutes of a relay's trouble.
 */
export function backoffStrategy(attemptsMade: number, type?: string): number {
  if (type !== CAPPED_BACKOFF) throw new Error(`unknown backoff strategy ${type}`);
  const base = Math.min(SEND_BACKOFF_CAP_MS, 2000 * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(base * (0.7 + 0.3 * Math.random()));
}

/**
 * Job defaults. Finished jobs are removed so that the reconciler can enqueue a message again
 * under the same job id (BullMQ ignores an add whose id still exists); the messages table, not
 * Redis, is the record of what happened. A 4xx SMTP reply retries with capped backoff.
 */
export function jobOptionsFor(queue: string): DefaultJobOptions | undefined {
  if (queue === QUEUES.send || campaignOfSendQueue(queue) !== null) {
    return {
      attempts: 10,
      backoff: { type: CAPPED_BACKOFF, delay: 2000 },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }
  if (queue === QUEUES.trigger) {
    // Event jobs have no fixed id and firing is idempotent per (trigger, event key): retry
    // freely, keep nothing finished (the firings table is the record).
    return {
      attempts: 5,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    };
  }
  if (queue === QUEUES.webhook) {
    // One attempt per job: retries are the delivery row's (next_attempt_at), polled again.
    return { attempts: 1, removeOnComplete: true, removeOnFail: true };
  }
  if (queue === QUEUES.recommendations) {
    // Finished refreshes are removed so that the next request (its fixed id) is not absorbed.
    return {
      attempts: 3,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }
  if (queue === QUEUES.journey) {
    // Due steps have fixed ids (entry and step run) and claim their entry in PostgreSQL, so a
    // retry or a duplicate runs nothing twice; finished jobs go so the id can be added again.
    return {
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
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
