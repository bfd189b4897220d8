import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { enqueueDelayedSends } from '../messages/send-jobs.js';
import { enqueueTriggerEvents, type TriggerEvent } from './events.js';
import { unsentTriggerMessages } from './store.js';

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
    await enqueueDelayedSends(deps.sql, deps.jobs, rows, deps.clock());
    total += rows.length;
    afterId = rows[rows.length - 1]!.id;
  }
}

/**
 * Hands the events the edge build left in `trigger_outbox` to the trigger queue, a page of rows
 * per transaction: the rows are deleted only if the enqueue succeeds, so a Redis failure leaves
 * them for the next run. Skip-locked lets several reconcilers drain side by side; a duplicate
 * hand-over (a commit lost after the enqueue) is harmless because firing is idempotent per
 * (trigger, event key). Returns how many events were handed over.
 */
export async function drainTriggerOutbox(
  deps: { sql: Sql; jobs: JobDispatcher },
  options: { pageSize?: number } = {},
): Promise<number> {
  const pageSize = options.pageSize ?? 20;
  let total = 0;
  for (;;) {
    const handed = await deps.sql.begin(async (tx) => {
      // Takes the oldest rows no other reconciler holds, removing them with this transaction.
      const rows = await tx<{ events: TriggerEvent[] }[]>`
        delete from trigger_outbox
        where id in (select id from trigger_outbox order by id limit ${pageSize} for update skip locked)
        returning events`;
      const events = rows.flatMap((r) => r.events);
      await enqueueTriggerEvents(deps.jobs, events);
      return { rows: rows.length, events: events.length };
    });
    if (handed.rows === 0) return total;
    total += handed.events;
  }
}
