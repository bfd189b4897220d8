import type { Job } from 'bullmq';
import { scanDateEntries } from '../src/journeys/date-entry.js';
import { enterSegment } from '../src/journeys/events.js';
import type { SegmentJobData, StepJobData } from '../src/journeys/jobs.js';
import { type JourneyDeps, type RunResult, runDueStep } from '../src/journeys/runner.js';

/** The date scan's scheduler id (BullMQ upsertJobScheduler); its period is JOURNEY_DATE_SCAN_MS. */
export const JOURNEY_DATE_SCAN_SCHEDULER = 'journey-date-scan';
/** A minute by default: an entry `at_local_hour` starts at most this late. */
export const JOURNEY_DATE_SCAN_MS = 60_000;

/**
 * The journey queue's processor: `step` jobs run an entry's due step (claimed in PostgreSQL
 * first, so a duplicate does nothing), `segment` jobs enter a segment-entered version's audience,
 * the repeatable `date-scan` job enters customers on the date held in an attribute.
 */
export const journeyProcessor =
  (deps: JourneyDeps) =>
  (
    job: Job<StepJobData | SegmentJobData | Record<string, never>>,
  ): Promise<RunResult | number | { journeys: number; entered: number }> =>
    job.name === 'date-scan'
      ? scanDateEntries(deps)
      : job.name === 'segment'
        ? enterSegment(deps, job.data as SegmentJobData)
        : runDueStep(deps, job.data as StepJobData);
