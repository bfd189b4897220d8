import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextAtLocalHour, preferredHour } from './best-hour.js';

const at = (h: number, n: number) => Array.from({ length: 24 }, (_, i) => (i === h ? n : 0));

describe('preferredHour', () => {
  const population = at(19, 1000);

  it('is the population’s peak for a customer without history, and theirs with a long one', () => {
    expect(preferredHour(at(0, 0), population)).toBe(19);
    expect(preferredHour(at(7, 1), population)).toBe(19);
    expect(preferredHour(at(7, 30), population)).toBe(7);
    expect(preferredHour(at(0, 0), at(0, 0))).toBe(10);
  });

  it('always answers an hour of the day', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { minLength: 24, maxLength: 24 }),
        fc.array(fc.nat(5000), { minLength: 24, maxLength: 24 }),
        (own, pop) => {
          const h = preferredHour(own, pop);
          expect(Number.isInteger(h) && h >= 0 && h < 24).toBe(true);
        },
      ),
    );
  });
});

describe('nextAtLocalHour', () => {
  it('finds the customer’s hour within the next 24 hours in their timezone', () => {
    const now = new Date('2026-12-07T14:20:00Z');
    // Paris is UTC+1 in December: 09:00 there is 08:00 UTC the next day.
    expect(nextAtLocalHour(now, 9, 'Europe/Paris').toISOString()).toBe('2026-12-08T08:00:00.000Z');
    expect(nextAtLocalHour(now, 16, 'Europe/Paris').toISOString()).toBe('2026-12-07T15:00:00.000Z');
    // During the hour itself: now.
    expect(nextAtLocalHour(now, 15, 'Europe/Paris')).toEqual(now);
    // Half-hour offsets (Kolkata, UTC+5:30): 20:00 there is 14:30 UTC.
    expect(nextAtLocalHour(now, 20, 'Asia/Kolkata').toISOString()).toBe('2026-12-07T14:30:00.000Z');
    // Unknown or absent timezones count as UTC.
    expect(nextAtLocalHour(now, 18, 'Mars/Olympus').toISOString()).toBe('2026-12-07T18:00:00.000Z');
    expect(nextAtLocalHour(now, 18, null).toISOString()).toBe('2026-12-07T18:00:00.000Z');
  });

  it('is never in the past nor 24 hours or more ahead, and falls on that local hour', () => {
    const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney'];
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom(...zones),
        (now, hour, zone) => {
          const t = nextAtLocalHour(now, hour, zone);
          expect(t.getTime()).toBeGreaterThanOrEqual(now.getTime());
          expect(t.getTime() - now.getTime()).toBeLessThan(24 * 3_600_000 + 3_600_000);
          const local = new Intl.DateTimeFormat('en-GB', {
            timeZone: zone,
            hour: 'numeric',
            hourCycle: 'h23',
          });
          // A daylight-saving jump can skip the hour; otherwise it is that hour there.
          const got = Number(local.format(t));
          expect(got === hour || Math.abs(got - hour) === 1 || Math.abs(got - hour) === 23).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
