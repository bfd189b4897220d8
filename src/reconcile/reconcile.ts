import { reconcileAbTests } from '../campaigns/ab-test.js';
import { enqueuePlanner } from '../campaigns/planner-job.js';
import { activeCampaigns, finishCampaignIfDone } from '../campaigns/store.js';
import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { reconcileQueuedImports } from '../imports/jobs.js';
import { reconcileJourneys } from '../journeys/reconcile.js';
import { topUpSends } from '../messages/send-jobs.js';
import { wakeHeldMessages } from '../messages/wake-held.js';
import { rollUpShownCounts } from '../offers/impressions.js';
import { drainTriggerOutbox, reconcileTriggerMessages } from '../triggers/reconcile.js';

export interface ReconcileDeps {
  sql: Sql;
  jobs: JobDispatcher;
  clock: () => Date;
  /** Rows untouched for this long are handed to the queue again (a live job makes it a no-op). */
  idleSeconds?: number;
  /** Send jobs kept live per campaign (back-pressure). */
  sendWindow?: number;
  /** Rows per send job of an unthrottled campaign. */
  sendBatch?: number;
}

export interface ReconcileResult {
  planners: number;
  enqueued: number;
  finished: number;
}

/**
 * Makes Redis agree with PostgreSQL: every due campaign not fully planned gets its planner job,
 * every row still queued (or left sending by a dead worker) and idle gets its send job again,
 * and a campaign with nothing left to send is marked sent; recorded offer impressions are
 * folded into the offers' counts. Idempotent: job ids are fixed, so
 * anything still live in Redis is not duplicated. This is also how launches written by the
 * edge build (rows only, no queue) reach the workers.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const result: ReconcileResult = { planners: 0, enqueued: 0, finished: 0 };
  const now = deps.clock();
  for (const campaign of await activeCampaigns(deps.sql)) {
    if (campaign.planned_at === null) {
      await enqueuePlanner(deps.jobs, { id: campaign.id, schedule_at: null }, now);
      result.planners += 1;
    }
    if (campaign.status !== 'sending') continue;
    // Keeps the campaign's send window full; rows whose jobs Redis lost are handed over again.
    result.enqueued += await topUpSends(deps.sql, deps.jobs, campaign, {
      window: deps.sendWindow,
      batch: deps.sendBatch,
    });
    if (await finishCampaignIfDone(deps.sql, campaign.id)) result.finished += 1;
  }
  // A/B tests: open windows of fully sent test cells; keep each decision or send-out job in Redis.
  result.planners += await reconcileAbTests(deps);
  result.enqueued += await drainTriggerOutbox(deps);
  result.enqueued += await reconcileTriggerMessages(deps, { idleSeconds: deps.idleSeconds ?? 30 });
  // Rows the contact policy held for quiet hours, due now by this clock.
  result.enqueued += await wakeHeldMessages(deps);
  result.enqueued += await reconcileQueuedImports(deps);
  // Journeys: due steps whose jobs Redis lost, and journey mail not handed over.
  result.enqueued += await reconcileJourneys(deps, { idleSeconds: deps.idleSeconds ?? 30 });
  await rollUpShownCounts(deps.sql);
  return result;
}
