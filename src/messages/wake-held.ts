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
  // Grouped by send queue and campaign: a throttled campaign's jobs live in its own queue.
  const groups = new Map<string, { queue: string; campaignId: number | null; ids: number[] }>();
  for (const r of rows) {
    const queue = sendQueueFor({ id: r.campaign_id ?? 0, throttle_per_second: r.throttle_per_second });
    const key = `${queue}|${r.campaign_id}`;
    const group = groups.get(key) ?? { queue, campaignId: r.campaign_id, ids: [] };
    group.ids.push(r.id);
    groups.set(key, group);
  }
  for (const g of groups.values()) {
    const jobIds = g.ids.map(sendJobId);
    const absent = new Set(deps.jobs.promote ? await deps.jobs.promote(g.queue, jobIds) : jobIds);
    const again = g.ids.filter((id) => absent.has(sendJobId(id)));
    if (again.length > 0) await deps.jobs.enqueue(g.queue, sendJobs(g.campaignId, again));
  }
  return rows.length;
}
