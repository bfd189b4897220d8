import type { Logger } from 'pino';
import type { JobDispatcher } from '../deps.js';

/** Resolves with the promise's value, or with `undefined` once `ms` have passed (it keeps running). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const TIMED_OUT = Symbol('timed out');

/** Like withDeadline, but says whether it timed out, so an undefined value is not mistaken for it. */
export function raceDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return withDeadline(
    promise.then((value) => ({ value })),
    ms,
  ).then((r) => (r === undefined ? TIMED_OUT : r.value));
}

/**
 * The HTTP API's dispatcher: an enqueue after a committed write waits for Redis at most `ms`.
 * With Redis down, ioredis holds commands until it reconnects, and a request that waited for it
 * would never answer although its rows were written. Every job the API hands over is also found
 * again from PostgreSQL (the reconciler starts unplanned campaigns and re-enqueues unsent rows,
 * imports and trigger outbox entries), so past the deadline the request answers and the job
 * follows when Redis is back, or from the reconciler. Job ids are deterministic: a late add of a
 * job the reconciler already added is a no-op.
 */
export function withEnqueueDeadline(jobs: JobDispatcher, ms: number, logger: Logger): JobDispatcher {
  return {
    ...jobs,
    ...(jobs.missing ? { missing: jobs.missing.bind(jobs) } : {}),
    async enqueue(queue, requests) {
      const result = await raceDeadline(jobs.enqueue(queue, requests), ms);
      if (result === TIMED_OUT) {
        logger.warn(
          { queue, jobs: requests.length },
          'queue did not answer in time; the reconciler will hand the work over',
        );
      }
    },
  };
}
