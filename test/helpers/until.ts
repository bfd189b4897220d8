import { vi } from 'vitest';

/**
 * Polls `probe` (every 50 ms, up to `ms`) until it returns something truthy, and returns that.
 * vitest's own `vi.waitFor` does the polling; this only turns "not yet" (a falsy value) into the
 * retry it expects.
 */
export function until<T>(probe: () => Promise<T | undefined | false | null>, ms = 30_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (!value) throw new Error('timed out waiting');
      return value;
    },
    { timeout: ms, interval: 50 },
  );
}
