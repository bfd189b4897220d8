import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { random as mulberry32 } from '../offers/seeded-random.js';
import { liveFromSample } from './audience-forecast.js';

/** A hashint8-like value: uniform over the int4 range. */
const int4 = (random: () => number) => Math.floor(random() * 2 ** 32) - 2 ** 31;

describe('live customers estimated from the sample (k minimum values)', () => {
  it('is within 15 % of the true number for any base, from the 1,000 smallest hashes', () => {
    // The estimator's relative standard error is 1/sqrt(k - 2), about 3.2 % at k = 1,000: 15 %
    // is over four of them, so a failure means a wrong formula, not bad luck.
    fc.assert(
      fc.property(fc.integer({ min: 2_000, max: 150_000 }), fc.integer(), (n, seed) => {
        const random = mulberry32(seed);
        const hashes = Float64Array.from({ length: n }, () => int4(random)).sort();
        const estimate = liveFromSample([...hashes.subarray(0, 1_000)]);
        expect(Math.abs(estimate - n) / n).toBeLessThan(0.15);
      }),
      { numRuns: 40 },
    );
  });

  it('reads the largest hash of the sample, in any order, and needs two to estimate', () => {
    expect(liveFromSample([])).toBe(0);
    expect(liveFromSample([5])).toBe(1);
    // Two hashes, the larger at a quarter of the space: (2 - 1) / 0.25 = 4.
    const quarter = -(2 ** 31) + 2 ** 30 - 1;
    expect(liveFromSample([quarter, -(2 ** 31)])).toBe(4);
    expect(liveFromSample([-(2 ** 31), quarter])).toBe(4);
  });
});
