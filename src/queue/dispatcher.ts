import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { assertClusterPrefix, type RedisConnection } from './connection.js';
import { isLive, jobLiveness } from './job-liveness.js';
import { jobOptionsFor, queuePrefix } from './queues.js';
import { createSendWindowStore } from './send-window.js';

export interface BullDispatcher extends JobDispatcher {
  queue(name: string): Queue;
  close(): Promise<void>;
}

/** Hands jobs to BullMQ queues (one Queue object per name, created on first use). */
export function createBullDispatcher(
  connection: RedisConnection,
  prefix = queuePrefix(),
  options: { staleMs?: number } = {},
): BullDispatcher {
  // Every process that touches a queue (API, workers, CLI) comes through here first.
  assertClusterPrefix(connection, prefix);
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      const defaultJobOptions = jobOptionsFor(name);
      q = new Queue(name, { connection, prefix, ...(defaultJobOptions ? { defaultJobOptions } : {}) });
      queues.set(name, q);
    }
    return q;
  };
  const missing = async (name: string, jobIds: readonly string[]) => {
    if (jobIds.length === 0) return [];
    const q = queue(name);
    // A job that finished while its row is still unsent, a remnant hash without data, or one
    // that outlived a wipe outside every list never runs again, and its id blocks a new add:
    // each is removed and counted as missing. Every check is O(log n) (job-liveness.ts).
    const states = await jobLiveness(connection, q, jobIds, options);
    const gone = jobIds.filter((_, i) => !isLive(states[i]!));
    // Only what still has a hash needs removing (BullMQ's remove also scans the lists).
    const exists = connection.pipeline();
    for (const id of gone) exists.exists(q.toKey(id));
    const found = (await exists.exec()) ?? [];
    for (const [i, id] of gone.entries()) if (found[i]?.[1] === 1) await q.remove(id).catch(() => 0);
    return gone;
  };
  return {
    queue,
    missing,
    // A Cluster client has the same commands; every window key carries the prefix, so with a
    // hash-tagged prefix they share its slot like the queues' keys.
    window: createSendWindowStore(connection as Redis, prefix, missing),
    async enqueue(name: string, jobs: JobRequest[]) {
      const q = queue(name);
      for (let i = 0; i < jobs.length; i += 1000) {
        await q.addBulk(
          jobs.slice(i, i + 1000).map((job) => ({ name: job.name, data: job.data, opts: job.opts })),
        );
      }
    },
    async promote(name: string, jobIds: readonly string[]) {
      const q = queue(name);
      const absent: string[] = [];
      for (const id of jobIds) {
        const job = await q.getJob(id);
        if (!job) absent.push(id);
        // Only a delayed job can be promoted; one waiting or active already runs now.
        else await job.promote().catch(() => {});
      }
      return absent;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
