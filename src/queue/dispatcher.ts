import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { jobOptionsFor, queuePrefix } from './queues.js';

const LIVE_STATES = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

export interface BullDispatcher extends JobDispatcher {
  queue(name: string): Queue;
  close(): Promise<void>;
}

/** Hands jobs to BullMQ queues (one Queue object per name, created on first use). */
export function createBullDispatcher(connection: Redis, prefix = queuePrefix()): BullDispatcher {
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
  return {
    queue,
    async enqueue(name: string, jobs: JobRequest[]) {
      const q = queue(name);
      for (let i = 0; i < jobs.length; i += 1000) {
        await q.addBulk(
          jobs.slice(i, i + 1000).map((job) => ({ name: job.name, data: job.data, opts: job.opts })),
        );
      }
    },
    async missing(name: string, jobIds: readonly string[]) {
      if (jobIds.length === 0) return [];
      const q = queue(name);
      // A job's hash lives at the queue's key plus its id until it is removed, whatever its state.
      // A hash without `data` is the remnant of a job that was being processed when Redis was
      // wiped (BullMQ's finishing scripts write a few fields back): it would never run, and its
      // id blocks a new add, so it is removed and counted as missing.
      const pipeline = connection.pipeline();
      for (const id of jobIds) pipeline.hexists(q.toKey(id), 'data');
      const replies = (await pipeline.exec()) ?? [];
      const present = jobIds.filter((_, i) => replies[i]?.[1] !== 0);
      // A whole hash can also survive a wipe outside every list (state "unknown"), or a job can
      // have finished while its row is still unsent: such a job will never run again either.
      const states = await Promise.all(present.map((id) => q.getJobState(id).catch(() => 'unknown')));
      const dead = present.filter((_, i) => !LIVE_STATES.has(states[i] as string));
      const missing = [...jobIds.filter((_, i) => replies[i]?.[1] === 0), ...dead];
      for (const id of missing) await q.remove(id).catch(() => 0);
      return missing;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
