import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { jobOptionsFor, queuePrefix } from './queues.js';

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
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
