import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capVerdict } from './apply.js';

const cap = fc.option(fc.integer({ min: 0, max: 20 }), { nil: null });

describe('capVerdict', () => {
  it('drops at the daily cap first, then the weekly one', () => {
    expect(capVerdict({ daily_cap: 2, weekly_cap: 5 }, { day_sent: 2, week_sent: 5, outranking: 0 })).toBe(
      'daily_cap',
    );
    expect(capVerdict({ daily_cap: 2, weekly_cap: 5 }, { day_sent: 1, week_sent: 5, outranking: 0 })).toBe(
      'weekly_cap',
    );
    expect(
      capVerdict({ daily_cap: 2, weekly_cap: 5 }, { day_sent: 1, week_sent: 4, outranking: 0 }),
    ).toBeNull();
  });

  it('keeps the last slot for a higher-priority message due now', () => {
    expect(capVerdict({ daily_cap: 2, weekly_cap: null }, { day_sent: 1, week_sent: 1, outranking: 1 })).toBe(
      'outranked',
    );
    expect(
      capVerdict({ daily_cap: 3, weekly_cap: null }, { day_sent: 1, week_sent: 1, outranking: 1 }),
    ).toBeNull();
    // Without a cap, priority decides nothing.
    expect(
      capVerdict({ daily_cap: null, weekly_cap: null }, { day_sent: 9, week_sent: 9, outranking: 9 }),
    ).toBeNull();
  });

  it('never lets a send through that would exceed a cap, whatever the counts', () => {
    fc.assert(
      fc.property(cap, cap, fc.nat(30), fc.nat(60), fc.nat(5), (daily, weekly, day, extra, outranking) => {
        const week = day + extra;
        const verdict = capVerdict(
          { daily_cap: daily, weekly_cap: weekly },
          { day_sent: day, week_sent: week, outranking },
        );
        if (verdict === null) {
          if (daily !== null) expect(day + 1 + outranking).toBeLessThanOrEqual(daily);
          if (weekly !== null) expect(week + 1 + outranking).toBeLessThanOrEqual(weekly);
        } else if (verdict === 'outranked') {
          // Room was left, but no more than the higher-priority messages need.
          if (daily !== null) expect(day).toBeLessThan(daily);
          if (weekly !== null) expect(week).toBeLessThan(weekly);
        }
      }),
    );
  });
});
