import { meanDifferenceZTest, rate, twoProportionZTest, type ZTest } from '../reports/stats.js';
import type { AB_REASONS, AbMetric, AbState, AbTest, CampaignStatus } from './schema.js';

// The A/B decision: which variant the rest of the audience gets, and why. Pure: the figures come
// from the report's counts of the test cell (human opens and clicks), the verdict from the same
// tests the report uses, at the same 95 %.

export const AB_CONFIDENCE = 0.95;

/** A variant's counts in the test cell, as the report counts them, plus Σ revenue² for Welch. */
export interface VariantOutcome {
  variant: string;
  sent: number;
  delivered: number;
  opens: number;
  clicks: number;
  conversions: number;
  revenue: number;
  /** Sum over messages of (that message's revenue)². */
  revenue_sq: number;
}

export type AbReason = (typeof AB_REASONS)[number];

export interface AbDecision {
  winner: string;
  reason: AbReason;
  detail: string;
  decided_by: 'window' | 'marketer';
  metric: AbMetric;
  confidence: number;
  leader: string;
  runner_up: string;
  z: number | null;
  p_value: number | null;
  observed: Array<{ variant: string; sent: number; delivered: number; value: number }>;
}

const LABELS: Record<AbMetric, string> = {
  open_rate: 'open rate',
  click_rate: 'click rate',
  conversion_rate: 'conversion rate',
  revenue_per_recipient: 'revenue per recipient',
};

const ZERO = { sent: 0, delivered: 0, opens: 0, clicks: 0, conversions: 0, revenue: 0, revenue_sq: 0 };

function successes(o: VariantOutcome, metric: AbMetric): number {
  if (metric === 'open_rate') return o.opens;
  if (metric === 'click_rate') return o.clicks;
  return o.conversions;
}

/** The metric's value for a variant: rates over delivered messages, revenue over sent ones. */
export function metricValue(o: VariantOutcome, metric: AbMetric): number {
  return metric === 'revenue_per_recipient'
    ? rate(o.revenue, o.sent)
    : rate(successes(o, metric), o.delivered);
}

/** Leader against runner-up: pooled two-proportion z-test for rates, Welch's z for revenue. */
function compare(a: VariantOutcome, b: VariantOutcome, metric: AbMetric): ZTest | null {
  if (metric === 'revenue_per_recipient') {
    return meanDifferenceZTest(
      { n: a.sent, sum: a.revenue, sum_sq: a.revenue_sq },
      { n: b.sent, sum: b.revenue, sum_sq: b.revenue_sq },
    );
  }
  return twoProportionZTest(successes(a, metric), a.delivered, successes(b, metric), b.delivered);
}

const show = (metric: AbMetric, value: number) =>
  metric === 'revenue_per_recipient' ? value.toFixed(2) : `${(value * 100).toFixed(1)} %`;
const showP = (p: number | null) =>
  p === null ? 'no test possible' : p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;

/**
 * Chooses the variant for the rest of the audience. The best variant on the metric is tested
 * against the runner-up; it wins when p < 1 − confidence. Otherwise `fallback` wins when set,
 * else the better observed value; equal values go to the variant listed first. `chosen` (a
 * marketer's override) wins outright, with the figures kept for the record.
 * `variants` are the candidates in the campaign's order; at least two.
 */
export function chooseWinner(input: {
  variants: readonly string[];
  outcomes: readonly VariantOutcome[];
  metric: AbMetric;
  fallback?: string | undefined;
  chosen?: string | undefined;
  confidence?: number;
}): Omit<AbDecision, 'decided_by'> {
  const { metric } = input;
  const confidence = input.confidence ?? AB_CONFIDENCE;
  if (input.variants.length < 2) throw new Error('an A/B test needs at least two variants');
  const byName = new Map(input.outcomes.map((o) => [o.variant, o]));
  const outcomes = input.variants.map((name) => byName.get(name) ?? { variant: name, ...ZERO });
  // Array.prototype.sort is stable: equal values keep the campaign's order.
  const ranked = [...outcomes].sort((a, b) => metricValue(b, metric) - metricValue(a, metric));
  const leader = ranked[0]!;
  const runnerUp = ranked[1]!;
  const test = compare(leader, runnerUp, metric);
  const p = test?.p_value ?? null;
  const lead = metricValue(leader, metric);
  const second = metricValue(runnerUp, metric);
  const label = LABELS[metric];
  const figures = `${leader.variant} ${show(metric, lead)} vs ${runnerUp.variant} ${show(metric, second)}`;
  const base = {
    metric,
    confidence,
    leader: leader.variant,
    runner_up: runnerUp.variant,
    z: test?.z ?? null,
    p_value: p,
    observed: outcomes.map((o) => ({
      variant: o.variant,
      sent: o.sent,
      delivered: o.delivered,
      value: metricValue(o, metric),
    })),
  };
  const pct = Math.round(confidence * 100);
  if (input.chosen !== undefined) {
    return {
      ...base,
      winner: input.chosen,
      reason: 'marketer_choice',
      detail: `${input.chosen} chosen by a marketer (${label}: ${figures}, ${showP(p)})`,
    };
  }
  if (p !== null && p < 1 - confidence && lead > second) {
    return {
      ...base,
      winner: leader.variant,
      reason: 'significant',
      detail: `${leader.variant} has the better ${label} at ${pct} %: ${figures} (${showP(p)})`,
    };
  }
  const notSignificant = `no variant is better at ${pct} % (${label}: ${figures}, ${showP(p)})`;
  if (input.fallback !== undefined) {
    return {
      ...base,
      winner: input.fallback,
      reason: 'fallback',
      detail: `${notSignificant}; the fallback ${input.fallback} is sent`,
    };
  }
  if (lead > second) {
    return {
      ...base,
      winner: leader.variant,
      reason: 'not_significant',
      detail: `${notSignificant}; ${leader.variant} had the better observed value`,
    };
  }
  return {
    ...base,
    winner: leader.variant,
    reason: 'no_difference',
    detail: `${leader.variant} and ${runnerUp.variant} have the same ${label} (${show(metric, lead)}); ${leader.variant}, listed first, is sent`,
  };
}

/** What the A/B columns of a campaign row hold. */
export interface AbColumns {
  status: CampaignStatus;
  ab_test: AbTest | null;
  ab_window_started_at: Date | null;
  ab_window_ends_at: Date | null;
  ab_decided_at: Date | null;
  ab_decision: AbDecision | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** Where a campaign's A/B test stands, for the API and the report; null without a test. */
export function abStateOf(row: AbColumns): AbState | null {
  if (!row.ab_test) return null;
  const d = row.ab_decision;
  const phase: AbState['phase'] = d
    ? 'winner_chosen'
    : row.status === 'cancelled'
      ? 'cancelled'
      : row.status === 'draft' || row.status === 'scheduled'
        ? 'pending'
        : 'testing';
  return {
    phase,
    window_started_at: iso(row.ab_window_started_at),
    window_ends_at: iso(row.ab_window_ends_at),
    winner: d?.winner ?? null,
    reason: d?.reason ?? null,
    detail: d?.detail ?? null,
    decided_at: iso(row.ab_decided_at),
    decided_by: d?.decided_by ?? null,
    p_value: d?.p_value ?? null,
    observed: d?.observed ?? null,
  };
}
