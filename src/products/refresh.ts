import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { QUEUES } from '../queue/queues.js';
import { computeFeeds, feedSettings, pairsNeedRebuild, rebuildPairs } from './recommend-store.js';

export interface RefreshResult {
  orders: number;
  rows: number;
}

/**
 * Recomputes recommendations. Everyone (no ids): co-purchase pairs, then every customer's
 * feeds, in one transaction, so a reader sees the old feeds or the new ones, never a half.
 * A few customers (on demand): their feeds over the pairs of the last full refresh (rebuilt
 * now when they are missing or stale and cheap to rebuild, see pairsNeedRebuild).
 */
export async function refreshRecommendations(
  deps: { sql: Sql; clock: () => Date },
  input: { customerIds?: number[] | undefined } = {},
): Promise<RefreshResult> {
  const now = deps.clock();
  return deps.sql.begin(async (tx) => {
    // The feeds are one large statement whose row estimates run far above the truth (CTEs of
    // aggregates): the planner then JIT-compiles it, which cost more than running it (7 of
    // 17 s at 40,000 lines). Sorts of a few hundred thousand rows spilled to disk at the
    // default work_mem; this transaction alone gets more.
    await tx`set local jit = off`;
    await tx`set local work_mem = '64MB'`;
    // Those estimates also make it merge-join sorted copies of CTEs of 100,000s of rows where a
    // hash join reads them once.
    await tx`set local enable_mergejoin = off`;
    const settings = await feedSettings(tx);
    const ids = input.customerIds ?? null;
    let orders = 0;
    if (ids === null || (await pairsNeedRebuild(tx))) {
      // One full refresh at a time: a second waits for the first, then recomputes.
      await tx`select pg_advisory_xact_lock(7461234028)`;
      orders = await rebuildPairs(tx, now, settings.get('bought_together')!);
    }
    const rows = await computeFeeds(tx, { ids, now, settings });
    return { orders, rows };
  });
}

export interface RecommendationJobData {
  customer_ids?: number[];
}

/**
 * Asks the recommendations queue for a full refresh. The fixed job id folds requests made while
 * one waits (each import's end, the schedule, the operator) into one run.
 */
export async function enqueueRefresh(jobs: JobDispatcher): Promise<void> {
  await jobs.enqueue(QUEUES.recommendations, [
    { name: 'refresh', data: {}, opts: { jobId: 'refresh-all', attempts: 3 } },
  ]);
}
