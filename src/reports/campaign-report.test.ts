import { describe, expect, it } from 'vitest';
import { abVerdict, withRates } from './campaign-report.js';

const variant = (name: string | null, delivered: number, clicks: number) => ({
  variant: name,
  ...withRates({ sent: delivered, delivered, bounced: 0, opens: clicks, clicks, conversions: 0, revenue: 0 }),
});

describe('abVerdict', () => {
  it('names the leader the winner only when significant at 95 %', () => {
    const clear = abVerdict([variant('A', 1000, 100), variant('B', 1000, 150)], 'click');
    expect(clear).toMatchObject({ leader: 'B', runner_up: 'A', winner: 'B' });
    expect(clear?.p_value).toBeLessThan(0.05);
    const close = abVerdict([variant('A', 1000, 100), variant('B', 1000, 105)], 'click');
    expect(close).toMatchObject({ leader: 'B', winner: null });
  });

  it('compares the best two of three and ignores messages without a variant', () => {
    const result = abVerdict(
      [variant(null, 5000, 900), variant('A', 500, 50), variant('B', 500, 90), variant('C', 500, 70)],
      'click',
    );
    expect(result).toMatchObject({ leader: 'B', runner_up: 'C' });
    expect(abVerdict([variant(null, 10, 1), variant('A', 10, 2)], 'click')).toBeNull();
  });
});
