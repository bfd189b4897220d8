import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitOutcome } from './decide.js';

const split = {
  id: 'ab',
  type: 'split' as const,
  paths: [
    { weight: 50, next: 'mail' },
    { weight: 50, next: 'skip', holdout: true },
  ],
};

describe('splitOutcome', () => {
  it('is the same for the same customer, every time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 1000 }),
        (customer, journey) => {
          expect(splitOutcome(split, journey, customer)).toEqual(splitOutcome(split, journey, customer));
        },
      ),
    );
  });

  it('follows the weights (about half of 4,000 customers each way)', () => {
    let holdout = 0;
    for (let c = 1; c <= 4000; c++) if (splitOutcome(split, 7, c).holdout) holdout++;
    expect(holdout).toBeGreaterThan(1800);
    expect(holdout).toBeLessThan(2200);
  });

  it('never takes a path of weight 0', () => {
    const lopsided = {
      ...split,
      paths: [
        { weight: 0, next: 'never' },
        { weight: 100, next: 'always' },
      ],
    };
    for (let c = 1; c <= 500; c++) expect(splitOutcome(lopsided, 1, c).next).toBe('always');
  });
});
