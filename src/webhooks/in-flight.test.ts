import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inFlightLimit } from './in-flight.js';

describe('inFlightLimit', () => {
  it('never runs more than max at once, and runs every task', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 40 }),
        async (max, delays) => {
          const limit = inFlightLimit(max);
          let now = 0;
          let peak = 0;
          const done = await Promise.all(
            delays.map((ticks, i) =>
              limit.run(async () => {
                now++;
                peak = Math.max(peak, now);
                for (let t = 0; t < ticks; t++) await Promise.resolve();
                now--;
                return i;
              }),
            ),
          );
          expect(done).toEqual(delays.map((_, i) => i));
          expect(peak).toBeLessThanOrEqual(max);
        },
      ),
    );
  });

  it('frees its place when a task fails', async () => {
    const limit = inFlightLimit(1);
    await expect(limit.run(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await limit.run(async () => 'next')).toBe('next');
  });
});
