import type { Job } from 'bullmq';
import { enterSegment } from '../src/journeys/events.js';
import type { SegmentJobData, StepJobData } from '../src/journeys/jobs.js';
import { type JourneyDeps, type RunResult, runDueStep } from '../src/journeys/runner.js';

/**
 * The journey queue's processor: `step` jobs run an entry's due step (claimed in PostgreSQL
 * first, so a duplicate does nothing), `segment` jobs enter a segment-entered version's audience.
 */
export const journeyProcessor =
  (deps: JourneyDeps) =>
  (job: Job<StepJobData | SegmentJobData>): Promise<RunResult | number> =>
    job.name === 'segment'
      ? enterSegment(deps, job.data as SegmentJobData)
      : runDueStep(deps, job.data as StepJobData);
