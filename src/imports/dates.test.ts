import { describe, expect, it } from 'vitest';
import { readPurchaseDate } from './dates.js';

describe('readPurchaseDate', () => {
  it('reads ISO, French and German dates, local ones in the given zone', () => {
    const iso = (text: string, tz = 'UTC') => readPurchaseDate(text, tz)?.toISOString() ?? null;
    expect(iso('2026-03-01T10:00:00Z')).toBe('2026-03-01T10:00:00.000Z');
    expect(iso('2026-03-01 10:00:00+02:00')).toBe('2026-03-01T08:00:00.000Z');
    expect(iso('2026-07-01 10:00', 'Europe/Paris')).toBe('2026-07-01T08:00:00.000Z');
    expect(iso('15/01/2026', 'Europe/Paris')).toBe('2026-01-14T23:00:00.000Z');
    expect(iso('15.01.2026 14h30')).toBe('2026-01-15T14:30:00.000Z');
    expect(iso('31/02/2026')).toBeNull();
    expect(iso('yesterday')).toBeNull();
  });
});
