import normalCdf from '@stdlib/stats-base-dists-normal-cdf';

export interface ZTest {
  z: number;
  /** Two-sided p-value. */
  p_value: number;
}

/**
 * Pooled two-proportion z-test of x1/n1 against x2/n2 (H0: equal proportions), two-sided,
 * with the normal CDF from stdlib. Null when a side is empty or the pooled rate is 0 or 1.
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ZTest | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return null;
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, p_value: 2 * normalCdf(-Math.abs(z), 0, 1) };
}

/** numerator / denominator, 0 when nothing was counted (a rate of an empty group). */
export const rate = (numerator: number, denominator: number): number =>
  denominator > 0 ? numerator / denominator : 0;

/** A sample summarised by its size, sum and sum of squares. */
export interface Moments {
  n: number;
  sum: number;
  sum_sq: number;
}

/**
 * Welch's test of two means in its large-sample form (z against the normal distribution), for
 * revenue per recipient: each recipient's revenue, mostly zeros. Two-sided. Null when a side has
 * fewer than two values or both have no variance.
 */
export function meanDifferenceZTest(a: Moments, b: Moments): ZTest | null {
  if (a.n < 2 || b.n < 2) return null;
  const mean = (s: Moments) => s.sum / s.n;
  const variance = (s: Moments) => Math.max(0, (s.sum_sq - s.n * mean(s) ** 2) / (s.n - 1));
  const se = Math.sqrt(variance(a) / a.n + variance(b) / b.n);
  if (!(se > 0)) return null;
  const z = (mean(a) - mean(b)) / se;
  return { z, p_value: 2 * normalCdf(-Math.abs(z), 0, 1) };
}
