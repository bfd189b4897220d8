import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { AppError } from './problem.js';

interface Window {
  failures: number;
  /** When the window ends, epoch ms. */
  resetAt: number;
}

/**
 * Counts failed credential checks (a wrong API key, a failed sign-in) per client over a fixed
 * window. A client past AUTH_FAILURE_LIMIT gets 429 for any credential until the window ends,
 * its correct keys included: checking them would tell a guesser which guess was right.
 * In memory, per process, bounded (the least recently seen clients are forgotten first).
 */
export interface AuthFailures {
  /** Throws the 429 when the client is locked out. */
  check(client: string, now: number): void;
  /** Counts one failure of the client. */
  fail(client: string, now: number): void;
}

export function createAuthFailures(
  config: Pick<Config, 'AUTH_FAILURE_LIMIT' | 'AUTH_FAILURE_WINDOW_SECONDS'>,
  maxClients = 50_000,
): AuthFailures {
  const windowMs = config.AUTH_FAILURE_WINDOW_SECONDS * 1000;
  const windows = new LRUCache<string, Window>({ max: maxClients });
  const live = (client: string, now: number) => {
    const w = windows.get(client);
    return w && w.resetAt > now ? w : undefined;
  };
  return {
    check(client, now) {
      const w = live(client, now);
      if (!w || w.failures < config.AUTH_FAILURE_LIMIT) return;
      const error = new AppError(
        429,
        'too-many-attempts',
        `Too many failed sign-ins or API keys from this client; try again in ${Math.ceil((w.resetAt - now) / 1000)} s`,
      );
      error.retryAfterSeconds = Math.max(1, Math.ceil((w.resetAt - now) / 1000));
      throw error;
    },
    fail(client, now) {
      const w = live(client, now);
      if (w) w.failures++;
      else windows.set(client, { failures: 1, resetAt: now + windowMs });
    },
  };
}
