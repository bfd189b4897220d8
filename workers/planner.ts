import type { Job } from 'bullmq';
import { type SendOutResult, sendOutWinner } from '../src/campaigns/ab-send.js';
import {
  AB_DECIDE_JOB,
  AB_SEND_OUT_JOB,
  type AbJobData,
  abSendOutJob,
  decideAtWindowEnd,
} from '../src/campaigns/ab-test.js';
import { type PlanDeps, type PlanResult, planCampaign } from '../src/campaigns/plan.js';
import type { PlanJobData } from '../src/campaigns/planner-job.js';
import { QUEUES } from '../src/queue/queues.js';

/**
 * The planner queue's processor: a campaign's planning (`plan-{id}`), and its A/B test's
 * decision at the window's end (`ab-decide-{id}`, delayed) and winner send-out (`ab-send-out-{id}`).
 */
export const plannerProcessor =
  (deps: PlanDeps) =>
  async (job: Job<PlanJobData | AbJobData>): Promise<PlanResult | SendOutResult | { decided: boolean }> => {
    if (job.name === AB_DECIDE_JOB) {
      const decided = await decideAtWindowEnd(deps.sql, job.data.campaign_id, deps.clock());
      if (decided) await deps.jobs.enqueue(QUEUES.planner, [abSendOutJob(job.data.campaign_id)]);
      return { decided };
    }
    if (job.name === AB_SEND_OUT_JOB) return sendOutWinner(deps, job.data.campaign_id);
    return planCampaign(deps, job.data.campaign_id);
  };
