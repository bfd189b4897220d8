import type { Db } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { enqueueDelayedSends } from '../messages/send-jobs.js';
import { dueEntries, unsentJourneyMessages } from './entry-store.js';
import { enqueueSteps } from './jobs.js';

/**
 * Hands PostgreSQL's journey state back to the queue: every live entry of an active journey
 * overdue by `overdueSeconds` gets its due-step job again (same id: a live job makes it a no-op;
 * after a Redis wipe or a crash between commit and enqueue it is how the step comes back), and
 * every journey mail still queued and idle gets its send job. With `journeyId`, every due entry
 * of that journey at once (resume). Returns how many jobs were handed over.
 */
export async function reconcileJourneys(
  deps: { sql: Db; jobs: JobDispatcher; clock: () => Date },
  options: { overdueSeconds?: number; idleSeconds?: number; journeyId?: number; pageSize?: number } = {},
): Promise<number> {
  const limit = options.pageSize ?? 5000;
  let total = 0;
  let afterId = 0;
  for (;;) {
    const rows = await dueEntries(deps.sql, {
      afterId,
      limit,
      ...(options.journeyId !== undefined
        ? { journeyId: options.journeyId }
        : { overdueSeconds: options.overdueSeconds ?? 5 }),
    });
    if (rows.length === 0) break;
    await enqueueSteps(deps.jobs, rows, deps.clock());
    total += rows.length;
    afterId = rows[rows.length - 1]!.id;
  }
  if (options.journeyId !== undefined) return total;
  afterId = 0;
  for (;;) {
    const rows = await unsentJourneyMessages(deps.sql, {
      afterId,
      limit,
      idleSeconds: options.idleSeconds ?? 30,
    });
    if (rows.length === 0) return total;
    await enqueueDelayedSends(deps.sql, deps.jobs, rows, deps.clock());
    total += rows.length;
    afterId = rows[rows.length - 1]!.id;
  }
}
