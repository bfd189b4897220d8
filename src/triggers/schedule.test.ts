import { describe, expect, it } from 'vitest';
import { safeTimeZone, sendAtFor } from './schedule.js';

describe('sendAtFor', () => {
  const now = new Date('2025-03-29T20:30:00Z');
  it('adds the delay in hours', () => {
    expect(sendAtFor(now, { delay_hours: 2.5, local_hour: null }, null).toISOString()).toBe(
      '2025-03-29T23:00:00.000Z',
    );
  });
  it('waits for the next local hour in the customer’s zone, across a DST change', () => {
    // 21:30 in Paris on 29 March; the next 10:00 is on 30 March, after the switch to CEST (UTC+2).
    expect(sendAtFor(now, { delay_hours: 0, local_hour: 10 }, 'Europe/Paris').toISOString()).toBe(
      '2025-03-30T08:00:00.000Z',
    );
    // Same day when the hour is still ahead.
    expect(sendAtFor(now, { delay_hours: 0, local_hour: 22 }, 'Europe/Paris').toISOString()).toBe(
      '2025-03-29T21:00:00.000Z',
    );
    expect(sendAtFor(now, { delay_hours: 0, local_hour: 9 }, 'Pacific/Auckland').toISOString()).toBe(
      '2025-03-30T20:00:00.000Z',
    );
  });
  it('falls back to UTC for unknown zones', () => {
    expect(safeTimeZone('Mars/Olympus')).toBe('UTC');
    expect(sendAtFor(now, { delay_hours: 0, local_hour: 6 }, 'Mars/Olympus').toISOString()).toBe(
      '2025-03-30T06:00:00.000Z',
    );
  });
});
