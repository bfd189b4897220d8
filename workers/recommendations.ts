import type { Job } from 'bullmq';
import type { Sql } from '../src/db/sql.js';
import {
  type RecommendationJobData,
  type RefreshResult,
  refreshRecommendations,
} from '../src/products/refresh.js';

/** The repeat options of the nightly full refresh. */
export const RECOMMENDATIONS_SCHEDULE = { every: 24 * 60 * 60 * 1000 } as const;

/** The recommendations queue's processor: a full refresh, or the feeds of the customers named. */
export const recommendationsProcessor =
  (deps: { sql: Sql; clock: () => Date }) =>
  (job: Job<RecommendationJobData>): Promise<RefreshResult> =>
    refreshRecommendations(deps, { customerIds: job.data.customer_ids });
