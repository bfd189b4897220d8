import type { AppDeps } from '../deps.js';
import { enqueueUnsent } from '../messages/send-jobs.js';
import { dispatchAbTest } from './ab-test.js';
import type { TransitionResult } from './lifecycle.js';
import { enqueuePlanner } from './planner-job.js';

/** After a transition's rows are committed, hand its jobs to the queue (absent on the edge: the reconciler does it). */
export async function dispatchTransition(deps: AppDeps, result: TransitionResult): Promise<void> {
  if (!deps.jobs) return;
  if (result.plan) await enqueuePlanner(deps.jobs, result.campaign, deps.clock());
  if (result.enqueueUnsent) await enqueueUnsent(deps.sql, deps.jobs, result.campaign);
  // A resumed A/B test may owe its decision or its winner send-out.
  if (result.campaign.ab_test && result.campaign.status === 'sending')
    await dispatchAbTest({ sql: deps.sql, jobs: deps.jobs, clock: deps.clock }, result.campaign.id);
}
