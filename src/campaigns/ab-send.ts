import { decideRecipients } from '../messages/recipients.js';
import { topUpSends } from '../messages/send-jobs.js';
import { loadCatalogue } from '../offers/decide.js';
import { heldMessages, type ReleasedRow, releaseHeldMessages } from './ab-store.js';
import type { PlanDeps } from './plan.js';
import { learningOf } from './plan.js';
import { findCampaign, finishCampaignIfDone } from './store.js';

export interface SendOutResult {
  status: 'sent_out' | 'skipped';
  pages: number;
  queued: number;
  suppressed: number;
}

/**
 * The winner send-out: pages through a decided campaign's held rows, checks each customer again
 * (consent, unsubscribe, bounce, erasure may have changed during the window), decides their
 * offers now, and turns each row into the winner's queued message or a suppressed row; then
 * enqueues the page's sends. Stops between pages when the campaign is paused or cancelled.
 * Safe to run twice or concurrently: a row is released only while it is still held.
 */
export async function sendOutWinner(deps: PlanDeps, campaignId: number): Promise<SendOutResult> {
  const { sql } = deps;
  const result: SendOutResult = { status: 'skipped', pages: 0, queued: 0, suppressed: 0 };
  const campaign = await findCampaign(sql, campaignId);
  if (!campaign?.ab_decision || campaign.status !== 'sending' || campaign.template_version === null)
    return result;
  const winner = campaign.variants.find((v) => v.name === campaign.ab_decision!.winner);
  if (!winner)
    throw new Error(`campaign ${campaignId}: winner ${campaign.ab_decision.winner} is not a variant`);
  const templateVersion = winner.template_version ?? campaign.template_version;
  const now = deps.clock();
  const catalogue = campaign.offers_per_email > 0 ? await loadCatalogue(sql) : undefined;
  const learning = await learningOf(sql, campaign);
  const allocated = new Map<number, number>();
  const pageSize = deps.pageSize ?? 1000;
  let afterId = 0;
  for (;;) {
    const held = await heldMessages(sql, campaignId, { afterId, limit: pageSize });
    if (held.length === 0) break;
    const decided = await decideRecipients(deps, held, {
      now,
      placements: () => campaign.offers_per_email,
      ...(catalogue ? { catalogue } : {}),
      allocated,
      // A customer deleted meanwhile: erased is the closest reason.
      missingReason: 'erased',
      ...(learning ? { learning } : {}),
    });
    const rows: ReleasedRow[] = decided.map((r) => ({
      id: r.id,
      variant: winner.name,
      template_version: templateVersion,
      offer_ids: r.offer_ids,
      held_out_offer_ids: r.held_out_offer_ids,
      ranker_cell: r.ranker_cell,
      status: r.status,
      suppressed_reason: r.suppressed_reason,
    }));
    const queued = await sql.begin((tx) => releaseHeldMessages(tx, rows));
    // The released rows sit below the window's cursor: look again from the first unsent row.
    if (queued.length > 0)
      await topUpSends(sql, deps.jobs, campaign, {
        rescan: true,
        window: deps.sendWindow,
        batch: deps.sendBatch,
      });
    result.queued += queued.length;
    result.suppressed += rows.filter((r) => r.status === 'suppressed').length;
    result.pages += 1;
    afterId = held[held.length - 1]!.id;
    const current = await findCampaign(sql, campaignId);
    if (current?.status !== 'sending') return result;
  }
  await finishCampaignIfDone(sql, campaignId);
  return { ...result, status: 'sent_out' };
}
