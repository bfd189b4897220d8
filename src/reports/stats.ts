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
