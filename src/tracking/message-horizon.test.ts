import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageHorizon } from './message-horizon.js';

/** A reading the test resolves by hand, counting how many were asked for. */
function manualReads() {
  const pending: Array<{ resolve: (n: number) => void; reject: (e: unknown) => void }> = [];
  const read = () => new Promise<number>((resolve, reject) => pending.push({ resolve, reject }));
  return { read, pending };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('MessageHorizon', () => {
  it('covers nothing before a reading, then every id up to the highest read', async () => {
    const { read, pending } = manualReads();
    let now = 0;
    const horizon = new MessageHorizon(read, 1000, () => now);
    expect(horizon.covers(1)).toBe(false);
    expect(pending).toHaveLength(1);
    pending[0]!.resolve(500);
    await tick();
    expect(horizon.covers(1)).toBe(true);
    expect(horizon.covers(500)).toBe(true);
    expect(horizon.covers(501)).toBe(false);
    // The second reading waits for the interval.
    expect(pending).toHaveLength(1);
    now = 1000;
    expect(horizon.covers(501)).toBe(false);
    expect(pending).toHaveLength(2);
  });

  it('asks for one reading at a time, and a failed one is asked again after the interval', async () => {
    const { read, pending } = manualReads();
    let now = 0;
    const horizon = new MessageHorizon(read, 1000, () => now);
    for (let i = 0; i < 50; i++) horizon.covers(10);
    expect(pending).toHaveLength(1);
    now = 5000;
    horizon.covers(10);
    expect(pending).toHaveLength(1);
    pending[0]!.reject(new Error('down'));
    await tick();
    expect(horizon.covers(10)).toBe(false);
    expect(pending).toHaveLength(1);
    now = 6000;
    horizon.covers(10);
    expect(pending).toHaveLength(2);
  });

  it('never covers an id above every id it read or learned (whatever the order)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 30 }),
        fc.nat(2 ** 41),
        (seen, id) => {
          const horizon = new MessageHorizon(() => new Promise<number>(() => {}));
          for (const s of seen) horizon.learn(s);
          expect(horizon.covers(id)).toBe(id >= 1 && seen.some((s) => s >= id));
        },
      ),
    );
  });
});
