import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localParts } from '../triggers/schedule.js';
import { inQuietWindow, localDay, quietHoursEnd } from './quiet-hours.js';

const ZONES = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
];
const minuteOfDay = (at: Date, zone: string) => {
  const p = localParts(at, zone);
  return p.hour * 60 + p.minute;
};

describe('quiet hours', () => {
  it('holds a message due at 23:30 in Paris until 08:00 Paris time the next morning', () => {
    const until = quietHoursEnd(new Date('2026-12-07T22:30:00Z'), 'Europe/Paris', 21 * 60, 8 * 60);
    expect(until?.toISOString()).toBe('2026-12-08T07:00:00.000Z');
  });

  it('lets a message due in the day through', () => {
    expect(quietHoursEnd(new Date('2026-12-07T10:00:00Z'), 'Europe/Paris', 21 * 60, 8 * 60)).toBeNull();
  });

  it('follows DST: 06:00 on the morning clocks go forward waits until 08:00 local, not 08:00 winter time', () => {
    // 2026-03-29: Paris goes from +01:00 to +02:00 at 02:00 local.
    const until = quietHoursEnd(new Date('2026-03-29T04:00:00Z'), 'Europe/Paris', 21 * 60, 8 * 60);
    expect(until?.toISOString()).toBe('2026-03-29T06:00:00.000Z');
  });

  it('lands on the end minute in a zone whose offset changes that day (Pacific/Chatham, DST on 2024-09-29)', () => {
    const until = quietHoursEnd(new Date('2024-09-27T11:16:00Z'), 'Pacific/Chatham', 1, 0);
    expect(until).not.toBeNull();
    expect(minuteOfDay(until!, 'Pacific/Chatham')).toBe(0);
  });

  it('for any instant, zone and window: held exactly when inside, until a later instant outside it at the end minute', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2020-01-01T00:00:00Z'),
          max: new Date('2035-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 0, max: 1439 }),
        (now, zone, start, end) => {
          fc.pre(start !== end);
          const until = quietHoursEnd(now, zone, start, end);
          const inside = inQuietWindow(minuteOfDay(now, zone), start, end);
          expect(until !== null).toBe(inside);
          if (!until) return;
          expect(until.getTime()).toBeGreaterThan(now.getTime());
          // Less than two days ahead, and no longer quiet then (a DST gap may push it past the end minute).
          expect(until.getTime() - now.getTime()).toBeLessThanOrEqual(2 * 86_400_000);
          expect(inQuietWindow(minuteOfDay(until, zone), start, end)).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('counts caps per local day of the customer', () => {
    expect(localDay(new Date('2026-12-07T23:30:00Z'), 'Europe/Paris')).toBe('2026-12-08');
    expect(localDay(new Date('2026-12-07T23:30:00Z'), 'America/New_York')).toBe('2026-12-07');
  });
});
