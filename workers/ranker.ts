import type { Job } from 'bullmq';
import type { Config } from '../src/config.js';
import type { Sql } from '../src/db/sql.js';
import { recomputeLearnedStats } from '../src/offers/ranker-store.js';

/** How often the learning ranker's statistics are recomputed (RANKER_REFRESH_MS overrides it). */
export const RANKER_REFRESH_MS = 60_000;

/**
 * The ranker queue's processor: recomputes every offer's posterior statistics from the
 * impressions and the conversions attributed to them (offers/ranker-store.ts). Returns how many
 * impressions it counted, or null when another run held the lock.
 */
export const rankerProcessor =
  (deps: { sql: Sql; config: Pick<Config, 'REPORT_CURRENCY'>; clock: () => Date }) =>
  async (_job: Job): Promise<{ impressions: number | null }> => ({
    impressions: await recomputeLearnedStats(deps.sql, deps.config.REPORT_CURRENCY, deps.clock()),
  });
