import type { Queue } from 'bullmq';
import type { RedisConnection } from './connection.js';

/** What a queue holds under a job id, as far as running it again is concerned. */
export type JobLiveness =
  | 'missing'
  | 'finished'
  | 'active'
  | 'delayed'
  | 'prioritized'
  | 'waiting-children'
  | 'waiting';

/**
 * A job this old that is in no sorted set and holds no lock is checked against the lists
 * exactly. Send jobs wait about window ÷ send rate (seconds at full speed, minutes when
 * throttled), so a job lost outside every list holds its campaign up for about this long.
 */
export const STALE_WAITING_MS = 2 * 60_000;

/**
 * The liveness of each job id, in O(log n) per job whatever the backlog. BullMQ's own
 * `getJobState` looks for a waiting job with LPOS over the whole wait list, which made a
 * reconciler that asks about every idle row quadratic. Here, per job, one pipeline reads the
 * job's hash (`<prefix>:<queue>:<id>`: `data`, `finishedOn`, `timestamp`), its lock key
 * (`…:<id>:lock`, held while a worker runs it) and its score in the delayed, prioritized and
 * waiting-children sorted sets. What is left is waiting (in the wait or paused list, or active
 * with a lapsed lock, which the stalled check puts back): the one state BullMQ keeps only in a
 * list. Only a job added more than `staleMs` ago and still left there is looked up in the lists
 * (`inLists`), to find a hash that outlived a partial loss of Redis outside every list.
 */
export async function jobLiveness(
  connection: RedisConnection,
  queue: Queue,
  jobIds: readonly string[],
  options: { now?: number; staleMs?: number } = {},
): Promise<JobLiveness[]> {
  if (jobIds.length === 0) return [];
  const keys = queue.keys;
  const pipeline = connection.pipeline();
  for (const id of jobIds) {
    const key = queue.toKey(id);
    pipeline.hmget(key, 'data', 'finishedOn', 'timestamp');
    pipeline.exists(`${key}:lock`);
    pipeline.zscore(keys.delayed as string, id);
    pipeline.zscore(keys.prioritized as string, id);
    pipeline.zscore(keys['waiting-children'] as string, id);
  }
  const replies = (await pipeline.exec()) ?? [];
  const at = (i: number, k: number) => {
    const [error, value] = replies[i * 5 + k] ?? [null, null];
    if (error) throw error;
    return value;
  };
  const now = options.now ?? Date.now();
  const staleMs = options.staleMs ?? STALE_WAITING_MS;
  const result: JobLiveness[] = [];
  const stale: number[] = [];
  jobIds.forEach((_, i) => {
    const [data, finishedOn, timestamp] = at(i, 0) as (string | null)[];
    // A hash without `data` is a remnant: BullMQ's finishing scripts wrote a few fields back
    // into a job that Redis had lost meanwhile. It never runs.
    if (data === null || data === undefined) result.push('missing');
    else if (finishedOn) result.push('finished');
    else if (at(i, 2) !== null) result.push('delayed');
    else if (at(i, 3) !== null) result.push('prioritized');
    else if (at(i, 4) !== null) result.push('waiting-children');
    else if (at(i, 1) === 1) result.push('active');
    else {
      result.push('waiting');
      if (now - Number(timestamp ?? 0) > staleMs) stale.push(i);
    }
  });
  if (stale.length > 0) {
    const found = await inLists(
      connection,
      queue,
      stale.map((i) => jobIds[i]!),
    );
    for (const [k, i] of stale.entries()) if (found[k] !== 'waiting') result[i] = found[k]!;
  }
  return result;
}

/** Beyond this many stale jobs, reading the lists once is cheaper than one LPOS per job. */
const LIST_READ_AT = 16;

/**
 * Of jobs that look waiting, which really are in the queue's wait, paused or active list
 * ('waiting'), and which are not ('missing', or 'finished' where BullMQ says so). A few are
 * looked up with LPOS (`getJobState`); many at once by reading the three lists once, which the
 * send window keeps short.
 */
async function inLists(
  connection: RedisConnection,
  queue: Queue,
  ids: readonly string[],
): Promise<('waiting' | 'missing' | 'finished')[]> {
  if (ids.length < LIST_READ_AT) {
    return Promise.all(
      ids.map(async (id) => {
        const state = await queue.getJobState(id).catch(() => 'unknown');
        if (state === 'unknown') return 'missing';
        return state === 'completed' || state === 'failed' ? 'finished' : 'waiting';
      }),
    );
  }
  const keys = queue.keys;
  const lists = await Promise.all(
    [keys.wait, keys.paused, keys.active].map((key) => connection.lrange(key as string, 0, -1)),
  );
  const present = new Set(lists.flat());
  return ids.map((id) => (present.has(id) ? 'waiting' : 'missing'));
}

/** Whether a job in this state will still run (or is running). */
export const isLive = (state: JobLiveness) => state !== 'missing' && state !== 'finished';
