import type { AbState } from '../campaigns/schema.js';
import { abStateOf } from '../campaigns/winner.js';
import type { Db } from '../db/sql.js';
import { type IncrementalReport, incrementalReport } from '../holdouts/report.js';
import { notFound } from '../http/problem.js';
import { type CurrencyRevenue, DEFAULT_REPORT_CURRENCY } from './currency.js';
import { type Metrics, withRates } from './metrics.js';
import { addCounts, scopeReport, ZERO } from './report-core.js';
import { rate, twoProportionZTest } from './stats.js';
import {
  abCellBreakdown,
  campaignReplacements,
  findCampaign,
  type RecommendedProductRow,
  type ReplacementRow,
  recommendedProducts,
} from './store.js';

export type AbMetric = 'open' | 'click' | 'conversion';
export type { Metrics } from './metrics.js';
export { withRates } from './metrics.js';

export interface AbResult {
  metric: AbMetric;
  confidence: number;
  leader: string;
  runner_up: string;
  z: number | null;
  p_value: number | null;
  /** The leader when the difference is significant at `confidence`, else null. */
  winner: string | null;
}

/** An A/B test with winner send-out: where it stands, and the test cell against the send-out. */
export interface AbTestReport extends Pick<AbState, 'phase' | 'winner' | 'reason' | 'detail' | 'p_value'> {
  metric: string;
  test_percent: number;
  window_ends_at: string | null;
  decided_at: string | null;
  decided_by: AbState['decided_by'];
  test_cell: { totals: Metrics; variants: Array<{ variant: string | null } & Metrics> };
  winner_send_out: ({ variant: string | null } & Metrics) | null;
}

export interface CampaignReport {
  campaign: { id: number; name: string; status: string };
  include_machine: boolean;
  /** What every `revenue` is in (REPORT_CURRENCY). */
  currency: string;
  revenue_by_currency: CurrencyRevenue[];
  /** Currencies no rate converts: their revenue is in revenue_by_currency only. */
  unconverted_currencies: string[];
  totals: Metrics;
  variants: Array<{ variant: string | null } & Metrics>;
  offers: Array<{ offer_id: number; name: string | null } & Metrics>;
  /** Over the test cell when the campaign has an A/B test (the send-out is not randomised). */
  ab: AbResult | null;
  ab_test: AbTestReport | null;
  /** Treated against held out over the same window from planning: the lift the mail made. */
  incremental: IncrementalReport;
  /** What the products blocks earned: per recommended product, and summed over them. */
  recommendations: RecommendationsReport;
  /** Planned offers the sender had to leave out of mails, why, and which offers took over. */
  replacements: ReplacementsReport;
}

/** One planned offer left out of some mails at send time. */
export interface ReplacedOffer {
  offer_id: number;
  name: string | null;
  /** Sent mails it was planned for and left out of. */
  mails: number;
  /** Of those, how many for each reason: its code pool was empty, or the customer's product was gone. */
  reasons: { codes_exhausted: number; no_product: number };
  /** The offers shown in its place, most mails first. */
  replaced_by: Array<{ offer_id: number; name: string | null; mails: number }>;
  /** Mails in which no other offer was eligible for its place. */
  not_replaced: number;
}

export interface ReplacementsReport {
  /** Places left out, summed over the offers (a mail losing two offers counts twice). */
  total: number;
  offers: ReplacedOffer[];
}

/** The replacements section from its rows (one per left-out offer, reason and replacing offer). */
export function replacementsReport(rows: readonly ReplacementRow[]): ReplacementsReport {
  const byOffer = new Map<number, ReplacedOffer>();
  for (const r of rows) {
    let offer = byOffer.get(r.offer_id);
    if (!offer) {
      offer = {
        offer_id: r.offer_id,
        name: r.name,
        mails: 0,
        reasons: { codes_exhausted: 0, no_product: 0 },
        replaced_by: [],
        not_replaced: 0,
      };
      byOffer.set(r.offer_id, offer);
    }
    offer.mails += r.mails;
    // A reason this code does not know yet is still counted in `mails`.
    if (r.reason in offer.reasons) offer.reasons[r.reason] += r.mails;
    if (r.by === null) offer.not_replaced += r.mails;
    else {
      const by = offer.replaced_by.find((b) => b.offer_id === r.by);
      if (by) by.mails += r.mails;
      else offer.replaced_by.push({ offer_id: r.by, name: r.by_name, mails: r.mails });
    }
  }
  const offers = [...byOffer.values()].sort((a, b) => b.mails - a.mails || a.offer_id - b.offer_id);
  for (const o of offers) o.replaced_by.sort((a, b) => b.mails - a.mails || a.offer_id - b.offer_id);
  return { total: offers.reduce((n, o) => n + o.mails, 0), offers };
}

export interface RecommendationsReport {
  /** Product clicks (a message clicking two products counts twice), conversions and revenue. */
  totals: { clicks: number; conversions: number; revenue: number };
  products: Array<RecommendedProductRow & { click_rate: number; conversion_rate: number }>;
}

/** The recommendations section from its per-product rows. */
export function recommendationsReport(rows: readonly RecommendedProductRow[]): RecommendationsReport {
  const totals = { clicks: 0, conversions: 0, revenue: 0 };
  for (const r of rows) {
    totals.clicks += r.clicks;
    totals.conversions += r.conversions;
    totals.revenue += r.revenue;
  }
  totals.revenue = Math.round(totals.revenue * 100) / 100;
  return {
    totals,
    products: rows.map((r) => ({
      ...r,
      click_rate: rate(r.clicks, r.shown),
      conversion_rate: rate(r.conversions, r.shown),
    })),
  };
}

/** The A/B section of a campaign with an A/B test: the test cell by variant, the winner send-out. */
async function abTestReport(
  sql: Db,
  campaign: NonNullable<Awaited<ReturnType<typeof findCampaign>>>,
  includeMachine: boolean,
  currency: string,
): Promise<AbTestReport | null> {
  const state = abStateOf(campaign);
  if (!state || !campaign.ab_test) return null;
  const rows = await abCellBreakdown(sql, campaign.id, includeMachine, currency);
  const cellTotals = { ...ZERO };
  const sendOut = { ...ZERO };
  const variants: AbTestReport['test_cell']['variants'] = [];
  let sendOutVariant: string | null = null;
  for (const { remainder, variant, revenue_sq: _sq, ...counts } of rows) {
    if (remainder) {
      addCounts(sendOut, counts);
      sendOutVariant = variant;
    } else {
      addCounts(cellTotals, counts);
      variants.push({ variant, ...withRates(counts) });
    }
  }
  return {
    phase: state.phase,
    metric: campaign.ab_test.metric,
    test_percent: campaign.ab_test.test_percent,
    window_ends_at: state.window_ends_at,
    winner: state.winner,
    decided_at: state.decided_at,
    decided_by: state.decided_by,
    reason: state.reason,
    detail: state.detail,
    p_value: state.p_value,
    test_cell: { totals: withRates(cellTotals), variants },
    winner_send_out:
      sendOut.sent > 0 ? { variant: sendOutVariant ?? state.winner, ...withRates(sendOut) } : null,
  };
}

const successes = (m: Metrics, metric: AbMetric) =>
  metric === 'open' ? m.opens : metric === 'click' ? m.clicks : m.conversions;

/**
 * The A/B verdict: the best variant on the metric against the runner-up (pooled two-proportion
 * z-test over delivered messages); a winner only when p < 1 - confidence.
 */
export function abVerdict(
  variants: Array<{ variant: string | null } & Metrics>,
  metric: AbMetric,
  confidence = 0.95,
): AbResult | null {
  const named = variants.filter((v): v is { variant: string } & Metrics => v.variant !== null);
  if (named.length < 2) return null;
  const ranked = [...named].sort(
    (a, b) => rate(successes(b, metric), b.delivered) - rate(successes(a, metric), a.delivered),
  );
  const [leader, runnerUp] = ranked as [(typeof ranked)[0], (typeof ranked)[0]];
  const test = twoProportionZTest(
    successes(leader, metric),
    leader.delivered,
    successes(runnerUp, metric),
    runnerUp.delivered,
  );
  const significant = test !== null && test.p_value < 1 - confidence;
  return {
    metric,
    confidence,
    leader: leader.variant,
    runner_up: runnerUp.variant,
    z: test?.z ?? null,
    p_value: test?.p_value ?? null,
    winner: significant ? leader.variant : null,
  };
}

/** Totals and breakdowns by variant and by offer of one campaign, with the A/B verdict. */
export async function campaignReport(
  sql: Db,
  campaignId: number,
  options: { includeMachine?: boolean; abMetric?: AbMetric; currency?: string; windowDays?: number } = {},
): Promise<CampaignReport> {
  const includeMachine = options.includeMachine ?? false;
  const currency = options.currency ?? DEFAULT_REPORT_CURRENCY;
  const [campaign, report, incremental, products, replaced] = await Promise.all([
    findCampaign(sql, campaignId),
    scopeReport(sql, { campaign_id: campaignId }, { includeMachine, currency }),
    incrementalReport(sql, { campaign_id: campaignId }, { windowDays: options.windowDays ?? 7, currency }),
    recommendedProducts(sql, campaignId, includeMachine, currency),
    campaignReplacements(sql, campaignId),
  ]);
  if (!campaign) throw notFound(`Campaign ${campaignId}`);
  const abTest = await abTestReport(sql, campaign, includeMachine, currency);
  return {
    campaign: { id: campaign.id, name: campaign.name, status: campaign.status },
    include_machine: includeMachine,
    currency: report.currency,
    revenue_by_currency: report.revenue_by_currency,
    unconverted_currencies: report.unconverted_currencies,
    totals: report.totals,
    variants: report.variants,
    offers: report.offers,
    ab: abVerdict(abTest ? abTest.test_cell.variants : report.variants, options.abMetric ?? 'click'),
    ab_test: abTest,
    incremental,
    recommendations: recommendationsReport(products),
    replacements: replacementsReport(replaced),
  };
}
