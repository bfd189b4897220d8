import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isTransientDbError, retryTransient } from './transient.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('transient database errors', () => {
  it('counts restarts, refusals, full servers and collisions as transient, bad statements not', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      '57P01',
      '57P03',
      '53300',
      '08006',
      'CONNECTION_CLOSED',
      '40P01',
    ])
      expect(isTransientDbError(withCode(code))).toBe(true);
    for (const code of ['23505', '42P01', '22P02', 'EINVAL'])
      expect(isTransientDbError(withCode(code))).toBe(false);
    expect(isTransientDbError(new Error('no code'))).toBe(false);
    expect(isTransientDbError(null)).toBe(false);
    // Node reports a refused dual-stack connect as an AggregateError.
    expect(isTransientDbError(new AggregateError([withCode('ECONNREFUSED')]))).toBe(true);
  });

  it('tells an unavailable database (503) from a collision (retry the same request)', () => {
    expect(isDatabaseUnavailable(withCode('57P03'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('40P01'))).toBe(false);
  });

  it('retries a transient failure until it passes, and gives up on others at once or at the deadline', async () => {
    let calls = 0;
    const sleep = async () => {};
    const value = await retryTransient(
      async () => {
        calls++;
        if (calls < 5) throw withCode('57P03');
        return 'recorded';
      },
      { forMs: 60_000, sleep },
    );
    expect({ value, calls }).toEqual({ value: 'recorded', calls: 5 });

    calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw withCode('23505');
        },
        { forMs: 60_000, sleep },
      ),
    ).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);

    await expect(
      retryTransient(
        async () => {
          throw withCode('ECONNREFUSED');
        },
        { forMs: 0, sleep },
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
