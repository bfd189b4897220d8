import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBatcher } from './batcher.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('createBatcher', () => {
  it('runs a lone call at once and groups the calls made while a batch is in flight', async () => {
    const batches: number[][] = [];
    const run = createBatcher(
      async (inputs: number[]) => {
        batches.push(inputs);
        await tick();
        return inputs.map((n) => n * 2);
      },
      { maxInFlight: 1 },
    );
    const answers = await Promise.all([1, 2, 3, 4].map((n) => run(n)));
    expect(answers).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails every call of a failed batch, and only those', async () => {
    let calls = 0;
    const run = createBatcher(
      async (inputs: string[]) => {
        calls++;
        await tick();
        if (inputs.includes('bad')) throw new Error('statement failed');
        return inputs;
      },
      { maxInFlight: 1 },
    );
    const first = run('ok');
    const [a, b] = [run('bad'), run('also')];
    await expect(first).resolves.toBe('ok');
    await expect(a).rejects.toThrow('statement failed');
    await expect(b).rejects.toThrow('statement failed');
    // A later call is a new batch, unharmed by the failure.
    await expect(run('later')).resolves.toBe('later');
    expect(calls).toBe(3);
  });

  it('rejects a flush that throws before returning a promise', async () => {
    const run = createBatcher((): Promise<number[]> => {
      throw new Error('at once');
    });
    await expect(run(1)).rejects.toThrow('at once');
  });

  it('answers every call with its own result, in batches no larger than maxSize', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3 }),
        async (inputs, maxSize, maxInFlight) => {
          const seen: number[] = [];
          let running = 0;
          let most = 0;
          const run = createBatcher(
            async (batch: number[]) => {
              expect(batch.length).toBeLessThanOrEqual(maxSize);
              running++;
              most = Math.max(most, running);
              seen.push(...batch);
              await tick();
              running--;
              return batch.map((n) => `${n}!`);
            },
            { maxSize, maxInFlight },
          );
          const answers = await Promise.all(inputs.map((n) => run(n)));
          expect(answers).toEqual(inputs.map((n) => `${n}!`));
          // Each call went in exactly one batch.
          expect(seen.sort()).toEqual([...inputs].sort());
          expect(most).toBeLessThanOrEqual(maxInFlight);
        },
      ),
      { numRuns: 100 },
    );
  });
});
