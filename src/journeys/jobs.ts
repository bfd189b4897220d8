import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES } from '../queue/queues.js';

// The journey queue's jobs. A step due later (a wait) is woken by the sweep of its second:
// one delayed job `d<second>` for every entry due in that second, whatever their number, which
// runs what is due by then page by page. A step due now (an entry, an event's wake, an overdue
// entry the reconciler hands back) gets its own job, id its entry and step run (`j<entry>-<seq>`),
// so a repeat hand-over is a no-op while the job lives, unless many are handed over at once
// (then the next second's sweep runs them); an entry woken by the event it waits for gets
// `j<entry>-<seq>e`, since its timeout job may hold the plain id. A sweep job added while one of
// its second is running is absorbed by it: a step that missed it that way is overdue within
// seconds and the reconciler hands it back.

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
 * More steps due now than this in one hand-over (a page of entries, the reconciler after a
 * wipe) are handed to a sweep rather than each to its own job: one transaction per page.
 */
export const SWEEP_NOW_ABOVE = 20;

/**
 * Hands due steps to the journey queue: those due later as one delayed sweep job per second
 * (rounded up, so a sweep never runs before its entries are due); those due now each as its own
 * job, or, when there are more than SWEEP_NOW_ABOVE, as the sweep of the next second (one not
 * started yet, so none that may have claimed its last page already absorbs it).
 */
export async function enqueueSteps(
  jobs: JobDispatcher | undefined,
  entries: readonly { id: number; seq: number; next_run_at: Date | null; woken?: boolean }[],
  now: Date,
): Promise<void> {
  if (!jobs) return;
  const requests: JobRequest[] = [];
  const seconds = new Set<number>();
  const dueNow = entries.filter((e) => e.next_run_at && e.next_run_at.getTime() <= now.getTime());
  const sweepNow = dueNow.length > SWEEP_NOW_ABOVE;
  if (sweepNow) seconds.add(Math.floor(now.getTime() / 1000) + 1);
  for (const e of entries) {
    if (!e.next_run_at) continue;
    if (e.next_run_at.getTime() > now.getTime()) {
      seconds.add(Math.ceil(e.next_run_at.getTime() / 1000));
      continue;
    }
    if (sweepNow) continue;
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
