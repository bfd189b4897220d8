import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { QUEUES } from '../queue/queues.js';
import { computeFeeds } from './compute-feeds.js';
import { feedSettings, pairsNeedRebuild, rebuildPairs } from './recommend-store.js';

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
    // The feeds run as one prepared statement per range of customers: after five ranges a
    // generic plan would guess the range's size instead of reading it from the statistics.
    await tx`set local plan_cache_mode = force_custom_plan`;
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
 * How long refresh requests are gathered before one job runs them: requests in the same window
 * share a job id, and the job waits for the window's end, so it cannot have started (and so
 * absorb a request it would not see) before the last request of its window.
 */
export const REFRESH_DEBOUNCE_MS = 5_000;
/** Customers per job when a request names many: one set-based refresh each. */
export const CUSTOMERS_PER_REFRESH = 1_000;

/** The debounce window of an instant, and how long until it closes (plus a little). */
function debounce(now: Date): { window: number; delay: number } {
  const window = Math.floor(now.getTime() / REFRESH_DEBOUNCE_MS);
  return { window, delay: (window + 1) * REFRESH_DEBOUNCE_MS - now.getTime() + 250 };
}

/**
 * Asks the recommendations queue for a full refresh. Requests made within one debounce window
 * (each import's end, the operator) fold into one run; a request made while a run is under
 * way gets the next window's job, which runs after it.
 */
export async function enqueueRefresh(jobs: JobDispatcher, now = new Date()): Promise<void> {
  const { window, delay } = debounce(now);
  await jobs.enqueue(QUEUES.recommendations, [
    { name: 'refresh', data: {}, opts: { jobId: `refresh-all-${window}`, delay, attempts: 3 } },
  ]);
}

/**
 * Queues a refresh of these customers' feeds (after their purchases). A burst of purchases of
 * one customer makes one refresh: the job id is the customer and the debounce window. A request
 * naming many customers is cut into jobs of CUSTOMERS_PER_REFRESH, each one set-based refresh.
 */
export async function enqueueCustomerRefresh(
  jobs: JobDispatcher,
  customerIds: readonly number[],
  now = new Date(),
): Promise<void> {
  const ids = [...new Set(customerIds)].sort((a, b) => a - b);
  if (ids.length === 0) return;
  const { window, delay } = debounce(now);
  const requests = [];
  for (let i = 0; i < ids.length; i += CUSTOMERS_PER_REFRESH) {
    const chunk = ids.slice(i, i + CUSTOMERS_PER_REFRESH);
    const jobId =
      chunk.length === 1
        ? `refresh-c${chunk[0]}-${window}`
        : `refresh-c${chunk[0]}-${chunk[chunk.length - 1]}-n${chunk.length}-${window}`;
    requests.push({
      name: 'refresh-customers',
      data: { customer_ids: chunk },
      opts: { jobId, delay, attempts: 3 },
    });
  }
  await jobs.enqueue(QUEUES.recommendations, requests);
}
