import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { currentControlGroup } from '../holdouts/assign.js';
import { bestSendTimes, populationHours } from '../messages/best-hour.js';
import { decideRecipients } from '../messages/recipients.js';
import { topUpSends } from '../messages/send-jobs.js';
import { type LearningInput, loadCatalogue } from '../offers/decide.js';
import { learningFor, rankerView } from '../offers/learning.js';
import { segmentAudiencePage } from '../segments/audience.js';
import { dispatchAbTest } from './ab-test.js';
import {
  advancePlanCursor,
  type CampaignRow,
  findCampaign,
  finishCampaignIfDone,
  insertPlannedMessages,
  markPlanned,
  type PlannedRow,
  segmentRule,
  startIfDue,
} from './store.js';
import { assignVariant, effectiveVariants, inTestCell } from './variant.js';

export interface PlanDeps {
  sql: Sql;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'>;
  jobs: JobDispatcher;
  clock: () => Date;
  pageSize?: number;
  /** Send jobs kept live per campaign (back-pressure); DEFAULT_SEND_WINDOW when absent. */
  sendWindow?: number;
  /** Rows per send job of an unthrottled campaign; DEFAULT_SEND_BATCH when absent. */
  sendBatch?: number;
}

export interface PlanResult {
  status: 'planned' | 'skipped';
  pages: number;
  inserted: number;
  enqueued: number;
}

/**
 * Plans a campaign: pages through its segment by keyset from where an earlier run stopped,
 * writes one ledger row per customer (queued with the variant and decided offers, or suppressed
 * with the reason), and enqueues each page's send jobs. Safe to run twice or concurrently: the
 * unique (campaign, customer) index keeps one row each and job ids dedupe the sends.
 * With an A/B test only the test cell is queued; the rest are `held` for the winner
 * (ab-send.ts), their offers decided then.
 */
export async function planCampaign(deps: PlanDeps, campaignId: number): Promise<PlanResult> {
  const { sql } = deps;
  await startIfDue(sql, campaignId);
  const campaign = await findCampaign(sql, campaignId);
  const skipped: PlanResult = { status: 'skipped', pages: 0, inserted: 0, enqueued: 0 };
  if (!campaign) return skipped;
  if (campaign.status !== 'sending' || campaign.segment_id === null || campaign.template_id === null)
    return skipped;
  const rule = await segmentRule(sql, campaign.segment_id);
  const variants = effectiveVariants(campaign);
  const abTest = campaign.ab_test;
  const templateId = campaign.template_id;
  const now = deps.clock();
  const catalogue = campaign.offers_per_email > 0 ? await loadCatalogue(sql) : undefined;
  const allocated = new Map<number, number>();
  const controlGroup = await currentControlGroup(sql, now);
  const learning = await learningOf(sql, campaign);
  // Sent at each customer's best hour: the population's profile once per run.
  const population = campaign.send_at_best_hour ? await populationHours(sql) : null;
  const pageSize = deps.pageSize ?? 1000;
  let afterId = campaign.plan_after_id ?? 0;
  const result: PlanResult = { status: 'planned', pages: 0, inserted: 0, enqueued: 0 };

  for (;;) {
    const ids =
      rule === undefined ? [] : await segmentAudiencePage(sql, rule, { afterId, limit: pageSize, now });
    if (ids.length === 0) break;
    const candidates = ids.map((customerId) => {
      const variant =
        !abTest || inTestCell(campaign.id, customerId, abTest.test_percent)
          ? assignVariant(variants, campaign.id, customerId)
          : null;
      return { customer_id: customerId, variant };
    });
    const decided = await decideRecipients(deps, candidates, {
      now,
      placements: () => campaign.offers_per_email,
      // Outside an A/B test's cell a row waits, held, for the winner (its offers decided then).
      admit: (c) => (c.variant ? 'queued' : 'held'),
      ...(catalogue ? { catalogue } : {}),
      allocated,
      holdout: {
        controlGroup,
        promotional: () => true,
        own: () => ({ key: `campaign:${campaign.id}`, percent: campaign.holdout_percent }),
      },
      ...(learning ? { learning } : {}),
    });
    const sendAt = population
      ? await bestSendTimes(
          sql,
          decided.filter((r) => r.status === 'queued').map((r) => r.customer_id),
          now,
          population,
        )
      : null;
    const rows: PlannedRow[] = decided.map((r) => ({
      customer_id: r.customer_id,
      variant: r.variant?.name ?? null,
      template_version: r.variant?.template_version ?? campaign.template_version!,
      offer_ids: r.offer_ids,
      held_out_offer_ids: r.held_out_offer_ids,
      ranker_cell: r.ranker_cell,
      send_at: sendAt?.get(r.customer_id)?.toISOString() ?? null,
      status: r.status,
      suppressed_reason: r.suppressed_reason,
    }));
    const last = ids[ids.length - 1]!;
    result.inserted += await sql.begin(async (tx) => {
      const n = await insertPlannedMessages(tx, { id: campaign.id, template_id: templateId }, rows);
      await advancePlanCursor(tx, campaign.id, last);
      return n;
    });
    // Only up to the send window: the senders top it up as it drains, and rows a planner that
    // died left unhanded are simply next in id order.
    result.enqueued += await topUpSends(sql, deps.jobs, campaign, {
      window: deps.sendWindow,
      batch: deps.sendBatch,
    });
    result.pages += 1;
    afterId = last;
    if (ids.length < pageSize) break;
    // A pause or cancel stops the planner between pages; resume enqueues it again.
    const current = await findCampaign(sql, campaign.id);
    if (current?.status !== 'sending') return { ...result, status: 'skipped' };
  }
  await markPlanned(sql, campaign.id);
  if (abTest) await dispatchAbTest(deps, campaign.id);
  await finishCampaignIfDone(sql, campaign.id);
  return result;
}

/**
 * The learning ranker of a campaign that opted in: its settings, what was learned (loaded once
 * per run) and its seed, `campaign:{id}`, so a re-planned page draws the same.
 */
export function learningOf(
  sql: Sql,
  campaign: Pick<
    CampaignRow,
    'id' | 'ranker' | 'ranker_objective' | 'ranker_cells' | 'ranker_exploration' | 'offers_per_email'
  >,
): Promise<LearningInput | undefined> {
  return learningFor(sql, rankerView(campaign), {
    offersPerEmail: campaign.offers_per_email,
    seedKey: `campaign:${campaign.id}`,
  });
}
