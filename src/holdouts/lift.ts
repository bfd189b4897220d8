import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { type BootstrapOptions, bootstrapRevenueLift } from './bootstrap.js';

// The lift of a treated group over its holdout: what the mail changed, not what it was credited
// with. Both groups are randomised by the same hash, so the difference of their outcomes over the
// same window after planning estimates the mail's effect.

/** One group's outcome over the window: customers, converters, revenue and its sum of squares. */
export interface GroupSample {
  customers: number;
  conversions: number;
  revenue: number;
  revenue_sq: number;
  /**
   * The non-zero revenue of each customer who has some, for the bootstrap interval of revenue
   * per customer; absent: that interval is the normal (Welch) one.
   */
  revenues?: readonly number[];
}

export interface GroupSummary extends GroupSample {
  conversion_rate: number | null;
  revenue_per_customer: number | null;
}

export interface Lift {
  /** Treated minus holdout. */
  absolute: number | null;
  /** Treated over holdout, minus one. */
  relative: number | null;
  /** 95 % confidence interval of `absolute`. */
  ci95: [number, number] | null;
  /** 95 % confidence interval of `relative` (delta method on the log of the ratio). */
  relative_ci95: [number, number] | null;
  /** Two-sided p-value of no difference. */
  p_value: number | null;
}

export type Verdict = 'lift' | 'negative' | 'no_detectable_difference' | 'not_enough_data' | 'no_holdout';

export interface IncrementalResult {
  treated: GroupSummary;
  holdout: GroupSummary;
  /** On the conversion rate (two-proportion, unpooled normal interval). */
  lift: Lift;
  /**
   * On revenue per customer: the bootstrap-t interval when the groups' revenues are given (and
   * few enough to resample), else Welch's (normal approximation).
   */
  revenue_lift: Lift;
  /** Conversions and revenue the mail added over the treated group: lift × treated customers. */
  incremental_conversions: number | null;
  incremental_revenue: number | null;
  /** The smallest true lift these sample sizes detect 80 % of the time at the 5 % level. */
  min_detectable_effect: {
    conversion_rate: number | null;
    conversion_rate_relative: number | null;
    revenue_per_customer: number | null;
  };
  /** Whether each group has at least 5 converters and 5 non-converters (the interval holds). */
  enough_data: boolean;
  verdict: Verdict;
}

const Z95 = normalQuantile(0.975, 0, 1);
const Z_POWER = normalQuantile(0.8, 0, 1);

const rateOf = (x: number, n: number) => (n > 0 ? x / n : null);

function summary({ revenues: _, ...g }: GroupSample): GroupSummary {
  return {
    ...g,
    conversion_rate: rateOf(g.conversions, g.customers),
    revenue_per_customer: rateOf(g.revenue, g.customers),
  };
}

const pValue = (z: number) => 2 * normalCdf(-Math.abs(z), 0, 1);

function interval(estimate: number, se: number): [number, number] {
  return [estimate - Z95 * se, estimate + Z95 * se];
}

const NO_LIFT: Lift = { absolute: null, relative: null, ci95: null, relative_ci95: null, p_value: null };

/** Lift of a difference of two estimates with their variances (of the estimates). */
function liftOf(t: number, h: number, varT: number, varH: number, relVar: number | null): Lift {
  const absolute = t - h;
  const se = Math.sqrt(varT + varH);
  const relative = h !== 0 ? t / h - 1 : null;
  let relativeCi: [number, number] | null = null;
  if (relative !== null && relVar !== null && t > 0 && h > 0) {
    const log = Math.log(t / h);
    const s = Math.sqrt(relVar);
    relativeCi = [Math.exp(log - Z95 * s) - 1, Math.exp(log + Z95 * s) - 1];
  }
  return {
    absolute,
    relative,
    ci95: se > 0 ? interval(absolute, se) : null,
    relative_ci95: relativeCi,
    p_value: se > 0 ? pValue(absolute / se) : null,
  };
}

/** Conversion-rate lift: unpooled two-proportion normal interval. */
export function conversionLift(t: GroupSample, h: GroupSample): Lift {
  if (t.customers === 0 || h.customers === 0) return NO_LIFT;
  const pt = t.conversions / t.customers;
  const ph = h.conversions / h.customers;
  const varT = (pt * (1 - pt)) / t.customers;
  const varH = (ph * (1 - ph)) / h.customers;
  const relVar = pt > 0 && ph > 0 ? (1 - pt) / (t.customers * pt) + (1 - ph) / (h.customers * ph) : null;
  return liftOf(pt, ph, varT, varH, relVar);
}

/** The sample variance of one group's revenue per customer (zeros included). */
function revenueVariance(g: GroupSample): number {
  if (g.customers < 2) return 0;
  const mean = g.revenue / g.customers;
  return Math.max(0, (g.revenue_sq - g.customers * mean * mean) / (g.customers - 1));
}

/**
 * Revenue-per-customer lift. With both groups' revenues, the studentized bootstrap interval
 * (bootstrap.ts: it reaches 95 % on zero-inflated, skewed revenue where the normal one covers
 * about 92.5 %); otherwise, or when the bootstrap cannot apply, Welch's unequal-variance
 * interval (normal approximation).
 */
export function revenueLift(t: GroupSample, h: GroupSample, options?: BootstrapOptions): Lift {
  if (t.customers < 2 || h.customers < 2) return NO_LIFT;
  const mt = t.revenue / t.customers;
  const mh = h.revenue / h.customers;
  const varT = revenueVariance(t) / t.customers;
  const varH = revenueVariance(h) / h.customers;
  const relVar = mt > 0 && mh > 0 ? varT / (mt * mt) + varH / (mh * mh) : null;
  const welch = liftOf(mt, mh, varT, varH, relVar);
  if (!t.revenues || !h.revenues) return welch;
  const boot = bootstrapRevenueLift(
    { customers: t.customers, revenues: t.revenues },
    { customers: h.customers, revenues: h.revenues },
    options,
  );
  if (!boot) return welch;
  return { ...welch, ci95: boot.ci95, relative_ci95: boot.relative_ci95, p_value: boot.p_value };
}

/** The treated group against its holdout: both lifts, increments, detectable effect, verdict. */
export function incrementalLift(treated: GroupSample, holdout: GroupSample): IncrementalResult {
  const lift = conversionLift(treated, holdout);
  const revenue = revenueLift(treated, holdout);
  const nT = treated.customers;
  const nH = holdout.customers;
  const enough =
    Math.min(treated.conversions, nT - treated.conversions, holdout.conversions, nH - holdout.conversions) >=
    5;
  let mde: IncrementalResult['min_detectable_effect'] = {
    conversion_rate: null,
    conversion_rate_relative: null,
    revenue_per_customer: null,
  };
  if (nT > 0 && nH > 0) {
    // At the holdout's rate (the pooled one when the holdout has none yet).
    const base =
      holdout.conversions > 0
        ? holdout.conversions / nH
        : (treated.conversions + holdout.conversions) / (nT + nH);
    const k = Z95 + Z_POWER;
    const conversionMde = k * Math.sqrt(base * (1 - base) * (1 / nT + 1 / nH));
    mde = {
      conversion_rate: conversionMde,
      conversion_rate_relative: base > 0 ? conversionMde / base : null,
      revenue_per_customer:
        nT > 1 && nH > 1
          ? k * Math.sqrt(revenueVariance(treated) / nT + revenueVariance(holdout) / nH)
          : null,
    };
  }
  const verdict: Verdict =
    nH === 0
      ? 'no_holdout'
      : !enough || lift.ci95 === null
        ? 'not_enough_data'
        : lift.ci95[0] > 0
          ? 'lift'
          : lift.ci95[1] < 0
            ? 'negative'
            : 'no_detectable_difference';
  return {
    treated: summary(treated),
    holdout: summary(holdout),
    lift,
    revenue_lift: revenue,
    incremental_conversions: lift.absolute === null ? null : lift.absolute * nT,
    incremental_revenue: revenue.absolute === null ? null : revenue.absolute * nT,
    min_detectable_effect: mde,
    enough_data: enough,
    verdict,
  };
}
