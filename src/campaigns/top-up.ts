import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { topUpSends } from '../messages/send-jobs.js';
import { findCampaign } from './store.js';

/** Tops up a sending campaign's send window (the senders call it on jobs flagged `top_up`). */
export async function topUpCampaign(
  deps: { sql: Sql; jobs: JobDispatcher; sendWindow?: number; sendBatch?: number },
  campaignId: number,
): Promise<number> {
  const campaign = await findCampaign(deps.sql, campaignId);
  if (campaign?.status !== 'sending') return 0;
  return topUpSends(deps.sql, deps.jobs, campaign, { window: deps.sendWindow, batch: deps.sendBatch });
}
