import { describe, expect, it } from 'vitest';
import { createAuthFailures } from './auth-failures.js';
import { type AuthFailureMessage, type FailureChannel, shareAuthFailures } from './auth-failures-shared.js';

/** Processes joined as `serve --processes` joins them: a failure sent by one reaches the others. */
function siblings(n: number) {
  const listeners: Array<(message: unknown) => void> = [];
  const channel = (self: number): FailureChannel => ({
    send: (message: AuthFailureMessage) => {
      listeners.forEach((listener, i) => {
        if (i !== self) listener(message);
      });
    },
    onMessage: (listener) => {
      listeners[self] = listener;
    },
  });
  const config = { AUTH_FAILURE_LIMIT: 4, AUTH_FAILURE_WINDOW_SECONDS: 60 };
  return Array.from({ length: n }, (_, i) => shareAuthFailures(createAuthFailures(config), channel(i)));
}

describe('credential failures shared across processes', () => {
  it('failures spread over the processes lock the client out on every one', () => {
    const procs = siblings(3);
    const now = 1_000_000;
    for (let i = 0; i < 4; i++) procs[i % 3]!.fail('198.51.100.7', now);
    for (const p of procs) expect(() => p.check('198.51.100.7', now + 1)).toThrow(/Too many failed/);
    // Another client is untouched, and the window ends everywhere.
    for (const p of procs) expect(() => p.check('198.51.100.8', now + 1)).not.toThrow();
    for (const p of procs) expect(() => p.check('198.51.100.7', now + 61_000)).not.toThrow();
  });

  it('ignores messages that are not failures', () => {
    let listener: (message: unknown) => void = () => {};
    const failures = shareAuthFailures(
      createAuthFailures({ AUTH_FAILURE_LIMIT: 1, AUTH_FAILURE_WINDOW_SECONDS: 60 }),
      { send: () => {}, onMessage: (l) => (listener = l) },
    );
    listener({ type: 'offerflow:auth-failure', client: 7, at: 'x' });
    listener('hello');
    listener(null);
    expect(() => failures.check('7', 0)).not.toThrow();
  });
});
