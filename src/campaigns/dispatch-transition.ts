import type { AppDeps } from '../deps.js';
import { topUpSends } from '../messages/send-jobs.js';
import { dispatchAbTest } from './ab-test.js';
import type { TransitionResult } from './lifecycle.js';
import { enqueuePlanner } from './planner-job.js';

/** After a transition's rows are committed, hand its jobs to the queue (absent on the edge: the reconciler does it). */
export async function dispatchTransition(deps: AppDeps, result: TransitionResult): Promise<void> {
  if (!deps.jobs) return;
  if (result.plan) await enqueuePlanner(deps.jobs, result.campaign, deps.clock());
  // A pause let the senders skip the window's jobs: hand it over again from the first unsent row.
  if (result.enqueueUnsent) await topUpSends(deps.sql, deps.jobs, result.campaign, { rescan: true });
  // A resumed A/B test may owe its decision or its winner send-out.
  if (result.campaign.ab_test && result.campaign.status === 'sending')
    await dispatchAbTest({ sql: deps.sql, jobs: deps.jobs, clock: deps.clock }, result.campaign.id);
}
