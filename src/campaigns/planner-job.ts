import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES } from '../queue/queues.js';

export interface PlanJobData {
  campaign_id: number;
}

/** The planner job of a campaign: one id per campaign, so a second launch or tick adds nothing. */
export function planJob(campaign: { id: number; schedule_at: Date | null }, now: Date): JobRequest {
  const delay = campaign.schedule_at ? Math.max(0, campaign.schedule_at.getTime() - now.getTime()) : 0;
  return {
    name: 'plan',
    data: { campaign_id: campaign.id } satisfies PlanJobData,
    opts: { jobId: `plan-${campaign.id}`, ...(delay > 0 ? { delay } : {}) },
  };
}

export async function enqueuePlanner(
  jobs: JobDispatcher,
  campaign: { id: number; schedule_at: Date | null },
  now: Date,
): Promise<void> {
  await jobs.enqueue(QUEUES.planner, [planJob(campaign, now)]);
}
