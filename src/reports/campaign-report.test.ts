import { describe, expect, it } from 'vitest';
import { abVerdict, replacementsReport, withRates } from './campaign-report.js';

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

describe('replacementsReport', () => {
  const row = (
    offer_id: number,
    reason: 'codes_exhausted' | 'no_product',
    by: number | null,
    mails: number,
  ) => ({
    offer_id,
    name: `offer ${offer_id}`,
    reason,
    by,
    by_name: by === null ? null : `offer ${by}`,
    mails,
  });

  it('sums each left-out offer over its reasons and replacing offers, most mails first', () => {
    const report = replacementsReport([
      row(1, 'codes_exhausted', 3, 4),
      row(1, 'no_product', 3, 2),
      row(1, 'no_product', 4, 5),
      row(1, 'codes_exhausted', null, 1),
      row(2, 'codes_exhausted', 3, 20),
    ]);
    expect(report.total).toBe(32);
    expect(report.offers.map((o) => o.offer_id)).toEqual([2, 1]);
    expect(report.offers[1]).toEqual({
      offer_id: 1,
      name: 'offer 1',
      mails: 12,
      reasons: { codes_exhausted: 5, no_product: 7 },
      replaced_by: [
        { offer_id: 3, name: 'offer 3', mails: 6 },
        { offer_id: 4, name: 'offer 4', mails: 5 },
      ],
      not_replaced: 1,
    });
  });

  it('is empty for a campaign that replaced nothing', () => {
    expect(replacementsReport([])).toEqual({ total: 0, offers: [] });
  });
});
