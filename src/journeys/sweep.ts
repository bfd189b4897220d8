import { deferEntry, dueNow } from './entry-store.js';
import { type JourneyDeps, runDuePage, runDueStep } from './runner.js';

// The sweep a wake-up job of one second starts: everything due by then, page by page.

/** How long an entry whose step failed in a sweep waits before it is tried again. */
const FAILED_STEP_RETRY_MS = 60_000;

/**
 * A sweep: runs what is due now, page after page, `parallel` pages at a time (each its own
 * transaction, SKIP LOCKED keeping them apart), until a page comes back short. What becomes due
 * while it runs is taken too. A page that fails is run again one entry at a time, and an entry
 * whose step fails alone is put off for a minute (logged), so one bad entry, always the oldest
 * due, never stops the sweeps. Returns how many entries ran.
 */
export async function sweepDueSteps(
  deps: JourneyDeps,
  options: { pageSize?: number; parallel?: number } = {},
): Promise<number> {
  const pageSize = options.pageSize ?? 500;
  let total = 0;
  const lane = async () => {
    for (;;) {
      let seen: number;
      try {
        seen = await runDuePage(deps, pageSize);
        total += seen;
      } catch (error) {
        deps.logger?.warn({ err: error }, 'journey sweep page failed, running its entries alone');
        const alone = await runDueAlone(deps, pageSize);
        total += alone.ran;
        seen = alone.seen;
      }
      if (seen < pageSize) return;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 2) }, lane));
  return total;
}

/** A failed page again, entry by entry: what fails alone is put off. */
async function runDueAlone(deps: JourneyDeps, limit: number): Promise<{ ran: number; seen: number }> {
  const due = await dueNow(deps.sql, deps.clock(), limit);
  let ran = 0;
  for (const job of due) {
    try {
      if ((await runDueStep(deps, job)).outcome === 'ran') ran += 1;
    } catch (error) {
      deps.logger?.error({ err: error, entry: job.entry_id, seq: job.seq }, 'journey step failed');
      await deferEntry(
        deps.sql,
        job.entry_id,
        job.seq,
        new Date(deps.clock().getTime() + FAILED_STEP_RETRY_MS),
      );
    }
  }
  return { ran, seen: due.length };
}
