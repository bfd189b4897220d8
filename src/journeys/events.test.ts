import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { listenKey, mayEnter } from './events.js';

describe('mayEnter (re_entry)', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);

  it('lets a first entry in, whatever the rule', () => {
    for (const rule of ['never', 'after_exit', { after_days: 3 }, undefined] as const)
      expect(mayEnter(rule, undefined, now)).toBe(true);
  });

  it('never lets a second live entry in, whatever the rule and the past', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom('never', 'after_exit'),
          fc.record({ after_days: fc.integer({ min: 1, max: 3650 }) }),
        ),
        fc.integer({ min: 0, max: 5000 }),
        (rule, ago) => {
          expect(mayEnter(rule as never, { live: true, last_entered: daysAgo(ago) }, now)).toBe(false);
        },
      ),
    );
  });

  it('never, after_exit, after_days', () => {
    const past = { live: false, last_entered: daysAgo(2) };
    expect(mayEnter('never', past, now)).toBe(false);
    expect(mayEnter('after_exit', past, now)).toBe(true);
    expect(mayEnter({ after_days: 3 }, past, now)).toBe(false);
    expect(mayEnter({ after_days: 2 }, past, now)).toBe(true);
  });

  it('listens on purchase or event:<name>', () => {
    expect(listenKey('purchase')).toBe('purchase');
    expect(listenKey('cart_updated')).toBe('event:cart_updated');
  });
});
