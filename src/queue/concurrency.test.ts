import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit } from './concurrency.js';

describe('createConcurrencyLimit', () => {
  it('never runs more than n at once, runs every call, and passes results and errors through', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ ticks: fc.nat(3), fails: fc.boolean() }), { maxLength: 40 }),
        async (n, calls) => {
          const limit = createConcurrencyLimit(n);
          let running = 0;
          let peak = 0;
          const settled = await Promise.allSettled(
            calls.map((c, i) =>
              limit(async () => {
                running++;
                peak = Math.max(peak, running);
                for (let t = 0; t < c.ticks; t++) await Promise.resolve();
                running--;
                if (c.fails) throw new Error(String(i));
                return i;
              }),
            ),
          );
          expect(peak).toBeLessThanOrEqual(n);
          for (const [i, s] of settled.entries()) {
            if (calls[i]!.fails)
              expect(s).toMatchObject({ status: 'rejected', reason: { message: String(i) } });
            else expect(s).toEqual({ status: 'fulfilled', value: i });
          }
        },
      ),
    );
  });
});
