import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES } from '../queue/queues.js';

// The journey queue's jobs. A step due later (a wait) is woken by the sweep of its second:
// one delayed job `d<second>` for every entry due in that second, whatever their number, which
// runs what is due by then page by page. A step due now (an entry, an event's wake, an overdue
// entry the reconciler hands back) gets its own job, id its entry and step run (`j<entry>-<seq>`),
// so a repeat hand-over is a no-op while the job lives; an entry woken by the event it waits for
// gets `j<entry>-<seq>e`, since its timeout job may hold the plain id. A sweep job added while one
// of its second is running is absorbed by it: a step that missed it that way is overdue within
// seconds and the reconciler hands it back as a job of its own.

export interface StepJobData {
  entry_id: number;
  seq: number;
}

export interface SegmentJobData {
  journey_id: number;
  version_id: number;
}

/** The job id of an entry's due step (BullMQ refuses all-digit custom ids). */
export const stepJobId = (entryId: number, seq: number, woken = false) =>
  `j${entryId}-${seq}${woken ? 'e' : ''}`;

export interface SweepJobData {
  /** The second (epoch) the sweep is for: it runs what is due by the time it runs. */
  second: number;
}

/** The job id of the sweep of one second. */
export const sweepJobId = (second: number) => `d${second}`;

/**
 * Hands due steps to the journey queue: those due now each as its own job, those due later as
 * one delayed sweep job per second (rounded up, so a sweep never runs before its entries are due).
 */
export async function enqueueSteps(
  jobs: JobDispatcher | undefined,
  entries: readonly { id: number; seq: number; next_run_at: Date | null; woken?: boolean }[],
  now: Date,
): Promise<void> {
  if (!jobs) return;
  const requests: JobRequest[] = [];
  const seconds = new Set<number>();
  for (const e of entries) {
    if (!e.next_run_at) continue;
    const delay = Math.max(0, e.next_run_at.getTime() - now.getTime());
    if (delay > 0) {
      seconds.add(Math.ceil(e.next_run_at.getTime() / 1000));
      continue;
    }
    requests.push({
      name: 'step',
      data: { entry_id: e.id, seq: e.seq } satisfies StepJobData as unknown as Record<string, unknown>,
      opts: { jobId: stepJobId(e.id, e.seq, e.woken) },
    });
  }
  for (const second of seconds)
    requests.push({
      name: 'sweep',
      data: { second } satisfies SweepJobData as unknown as Record<string, unknown>,
      opts: { jobId: sweepJobId(second), delay: Math.max(0, second * 1000 - now.getTime()) },
    });
  if (requests.length > 0) await jobs.enqueue(QUEUES.journey, requests);
}

/** Hands a segment-entered version to the queue: its audience enters page by page. */
export async function enqueueSegmentEntry(
  jobs: JobDispatcher | undefined,
  data: SegmentJobData,
): Promise<void> {
  await jobs?.enqueue(QUEUES.journey, [
    {
      name: 'segment',
      data: data as unknown as Record<string, unknown>,
      opts: { jobId: `s${data.version_id}` },
    },
  ]);
}
