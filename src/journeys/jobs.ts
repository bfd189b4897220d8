import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES } from '../queue/queues.js';

// The journey queue's jobs. A due step's id is its entry and step run (`j<entry>-<seq>`), so a
// repeat hand-over (the reconciler, a resume) is a no-op while the job lives; an entry woken by
// the event it waits for gets `j<entry>-<seq>e`, since its timeout job holds the plain id.

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

/** Hands due steps to the journey queue, each delayed until its entry is due. */
export async function enqueueSteps(
  jobs: JobDispatcher | undefined,
  entries: readonly { id: number; seq: number; next_run_at: Date | null; woken?: boolean }[],
  now: Date,
): Promise<void> {
  if (!jobs) return;
  const requests: JobRequest[] = [];
  for (const e of entries) {
    if (!e.next_run_at) continue;
    const delay = Math.max(0, e.next_run_at.getTime() - now.getTime());
    requests.push({
      name: 'step',
      data: { entry_id: e.id, seq: e.seq } satisfies StepJobData as unknown as Record<string, unknown>,
      opts: { jobId: stepJobId(e.id, e.seq, e.woken), ...(delay > 0 ? { delay } : {}) },
    });
  }
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
