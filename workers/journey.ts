import type { Job } from 'bullmq';
import { scanDateEntries } from '../src/journeys/date-entry.js';
import { enterSegment } from '../src/journeys/events.js';
import type { SegmentJobData, StepJobData } from '../src/journeys/jobs.js';
import { createStepRunner, type JourneyDeps, type RunResult } from '../src/journeys/runner.js';
import { sweepDueSteps } from '../src/journeys/sweep.js';

/** The date scan's scheduler id (BullMQ upsertJobScheduler); its period is JOURNEY_DATE_SCAN_MS. */
export const JOURNEY_DATE_SCAN_SCHEDULER = 'journey-date-scan';
/** A minute by default: an entry `at_local_hour` starts at most this late. */
export const JOURNEY_DATE_SCAN_MS = 60_000;

/** A due step whose entry another transaction held: the job tries again (its backoff). */
export class EntryHeldError extends Error {
  override name = 'EntryHeldError';
}

/**
 * The journey queue's processor: `step` jobs run an entry's due step (claimed in PostgreSQL
 * first, so a duplicate does nothing; the jobs running at once share one transaction), `sweep`
 * jobs run whatever is due when they run, page by page (the wake-up of waits),
 * `segment` jobs enter a segment-entered version's audience, the repeatable `date-scan` job
 * enters customers on the date held in an attribute.
 */
export const journeyProcessor = (deps: JourneyDeps, sweep: { pageSize?: number; parallel?: number } = {}) => {
  const runStep = createStepRunner(deps);
  return async (
    job: Job<StepJobData | SegmentJobData | Record<string, never>>,
  ): Promise<RunResult | number | { journeys: number; entered: number }> => {
    if (job.name === 'date-scan') return scanDateEntries(deps);
    if (job.name === 'segment') return enterSegment(deps, job.data as SegmentJobData);
    if (job.name === 'sweep') return sweepDueSteps(deps, sweep);
    const result = await runStep(job.data as StepJobData);
    // Held by a transaction that may yet roll back: dropping the job would leave the step to
    // the reconciler; a retry finds it run (and does nothing) or runs it.
    if (result.outcome === 'skipped' && result.reason === 'locked')
      throw new EntryHeldError(`journey entry ${(job.data as StepJobData).entry_id} is held`);
    return result;
  };
};
