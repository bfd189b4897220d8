import { describe, expect, it } from 'vitest';
import { meanDifferenceZTest, rate, twoProportionZTest } from './stats.js';

describe('twoProportionZTest', () => {
  it('matches textbook examples', () => {
    // 140/200 vs 255/340: pooled p = 0.7314815, SE = 0.03949401, z = -1.266015.
    expect(twoProportionZTest(140, 200, 255, 340)?.z).toBeCloseTo(-1.266015, 5);
    // 28/254 vs 36/301 at alpha 0.05: z = -0.344, two-tailed p = 0.7307, H0 not rejected.
    const result = twoProportionZTest(28, 254, 36, 301);
    expect(result?.z).toBeCloseTo(-0.3441, 3);
    expect(result?.p_value).toBeCloseTo(0.7307, 3);
  });

  it('is symmetric and finds a clear difference significant', () => {
    const ab = twoProportionZTest(100, 1000, 150, 1000);
    const ba = twoProportionZTest(150, 1000, 100, 1000);
    expect(ab?.z).toBeCloseTo(-(ba?.z ?? 0), 10);
    expect(ab?.p_value).toBeLessThan(0.001);
  });

  it('has no answer for empty groups or degenerate rates', () => {
    expect(twoProportionZTest(0, 0, 5, 10)).toBeNull();
    expect(twoProportionZTest(0, 10, 0, 10)).toBeNull();
    expect(twoProportionZTest(10, 10, 10, 10)).toBeNull();
  });

  it('rates are 0 over nothing', () => {
    expect(rate(3, 0)).toBe(0);
    expect(rate(1, 4)).toBe(0.25);
  });
});

describe('meanDifferenceZTest', () => {
  it('matches a hand computation of Welch’s statistic', () => {
    // [1..5] vs [2,4,..,10]: means 3 and 6, variances 2.5 and 10, SE = √(0.5 + 2), z = −1.897367.
    const result = meanDifferenceZTest({ n: 5, sum: 15, sum_sq: 55 }, { n: 5, sum: 30, sum_sq: 220 });
    expect(result?.z).toBeCloseTo(-1.897367, 5);
    expect(result?.p_value).toBeCloseTo(0.05778, 4);
  });

  it('has no answer without variance or with fewer than two values', () => {
    expect(meanDifferenceZTest({ n: 10, sum: 0, sum_sq: 0 }, { n: 10, sum: 0, sum_sq: 0 })).toBeNull();
    expect(meanDifferenceZTest({ n: 1, sum: 5, sum_sq: 25 }, { n: 10, sum: 3, sum_sq: 9 })).toBeNull();
  });
});
