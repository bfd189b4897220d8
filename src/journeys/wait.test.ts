import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { waitEndsAt } from './wait.js';

describe('waitEndsAt', () => {
  const now = new Date('2026-12-07T14:30:00Z'); // a Monday

  it('waits seconds', () => {
    expect(waitEndsAt(now, { seconds: 1 }, null).toISOString()).toBe('2026-12-07T14:30:01.000Z');
  });

  it('waits until the next local hour, tomorrow when it has passed', () => {
    expect(waitEndsAt(now, { until: { hour: 9 } }, 'Europe/Paris').toISOString()).toBe(
      '2026-12-08T08:00:00.000Z',
    );
    expect(waitEndsAt(now, { until: { hour: 18 } }, 'Europe/Paris').toISOString()).toBe(
      '2026-12-07T17:00:00.000Z',
    );
  });

  it('waits until a local weekday and hour', () => {
    expect(
      waitEndsAt(now, { until: { hour: 10, weekday: 'saturday' } }, 'America/New_York').toISOString(),
    ).toBe('2026-12-12T15:00:00.000Z');
  });

  it('always ends after now and within a week and a day, at the asked local hour', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom('UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/Los_Angeles', 'Australia/Lord_Howe'),
        (at, hour, zone) => {
          const end = waitEndsAt(at, { until: { hour, weekday: 'wednesday' } }, zone);
          expect(end.getTime()).toBeGreaterThan(at.getTime());
          expect(end.getTime() - at.getTime()).toBeLessThanOrEqual(8 * 86_400_000);
        },
      ),
    );
  });
});
