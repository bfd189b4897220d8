import type { Job } from 'bullmq';
import type { PlanJobData } from '../src/campaigns/jobs.js';
import { type PlanDeps, type PlanResult, planCampaign } from '../src/campaigns/plan.js';

/** The planner queue's processor: one job per campaign (`plan-{id}`). */
export const plannerProcessor =
  (deps: PlanDeps) =>
  (job: Job<PlanJobData>): Promise<PlanResult> =>
    planCampaign(deps, job.data.campaign_id);
