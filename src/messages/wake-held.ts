import type { Db } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { takeDueHeldMessages } from '../policy/store.js';
import { sendQueueFor } from '../queue/queues.js';
import { sendJobId, sendJobs } from './send-jobs.js';

/**
 * Wakes the send jobs of rows the contact policy held for quiet hours once the window has
 * ended by the reconciler's clock: a held job waits as a delayed BullMQ job computed from the
 * sender's clock, and a clock that moved (a test's, or a host's corrected one) must not leave
 * it waiting. A job Redis lost is enqueued again. Returns how many rows were woken.
 */
export async function wakeHeldMessages(
  deps: { sql: Db; jobs: JobDispatcher; clock: () => Date },
  options: { pageSize?: number } = {},
): Promise<number> {
  const rows = await takeDueHeldMessages(deps.sql, deps.clock(), options.pageSize ?? 1000);
  const byQueue = new Map<string, { campaignId: number | null; ids: number[] }[]>();
  for (const r of rows) {
    const queue =
      r.campaign_id === null
        ? sendQueueFor({ id: 0, throttle_per_second: null })
        : sendQueueFor({
            id: r.campaign_id,
            throttle_per_second: r.throttle_per_second,
          });
    const groups = byQueue.get(queue) ?? [];
    let group = groups.find((g) => g.campaignId === r.campaign_id);
    if (!group) {
      group = { campaignId: r.campaign_id, ids: [] };
      groups.push(group);
    }
    group.ids.push(r.id);
    byQueue.set(queue, groups);
  }
  for (const [queue, groups] of byQueue) {
    for (const g of groups) {
      const absent = deps.jobs.promote
        ? new Set(await deps.jobs.promote(queue, g.ids.map(sendJobId)))
        : new Set(g.ids.map(sendJobId));
      const again = g.ids.filter((id) => absent.has(sendJobId(id)));
      if (again.length > 0) await deps.jobs.enqueue(queue, sendJobs(g.campaignId, again));
    }
  }
  return rows.length;
}
