import type { Db } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { QUEUES } from '../queue/queues.js';
import { triggerSendJobs } from './fire.js';
import { markTriggerMessagesEnqueued, unsentTriggerMessages } from './store.js';

/**
 * Hands every trigger message still queued (or left sending by a dead worker) and idle for
 * `idleSeconds` to the send queue again, delayed until its send_at. The job id is the message
 * id, so a job still alive in Redis (a delayed one, typically) makes this a no-op; after a Redis
 * wipe it is how delayed messages come back. Returns how many were handed over.
 */
export async function reconcileTriggerMessages(
  deps: { sql: Db; jobs: JobDispatcher; clock: () => Date },
  options: { idleSeconds?: number; pageSize?: number } = {},
): Promise<number> {
  let afterId = 0;
  let total = 0;
  for (;;) {
    const rows = await unsentTriggerMessages(deps.sql, {
      afterId,
      limit: options.pageSize ?? 5000,
      idleSeconds: options.idleSeconds ?? 30,
    });
    if (rows.length === 0) return total;
    await deps.jobs.enqueue(QUEUES.send, triggerSendJobs(rows, deps.clock()));
    await markTriggerMessagesEnqueued(
      deps.sql,
      rows.map((r) => r.id),
    );
    total += rows.length;
    afterId = rows[rows.length - 1]!.id;
  }
}
