import cluster from 'node:cluster';
import type { AuthFailures } from './auth-failures.js';

/** The IPC message that carries one credential failure between `serve --processes` workers. */
export const AUTH_FAILURE_MESSAGE = 'offerflow:auth-failure';

export interface AuthFailureMessage {
  type: typeof AUTH_FAILURE_MESSAGE;
  client: string;
  at: number;
}

export const isAuthFailureMessage = (message: unknown): message is AuthFailureMessage =>
  typeof message === 'object' &&
  message !== null &&
  (message as { type?: unknown }).type === AUTH_FAILURE_MESSAGE &&
  typeof (message as { client?: unknown }).client === 'string' &&
  typeof (message as { at?: unknown }).at === 'number';

/** The side of an IPC channel a worker process has (Node's `process` in a cluster worker). */
export interface FailureChannel {
  send(message: AuthFailureMessage): void;
  onMessage(listener: (message: unknown) => void): void;
}

/**
 * The credential-failure counts of one process shared with its siblings. Connections are spread
 * over the processes of `serve --processes N`, so counts kept apart would let a guesser try
 * N × AUTH_FAILURE_LIMIT keys per window. Each failure is counted here and sent to the primary,
 * which relays it to every other worker (src/cli/serve-processes.ts); each counts it as its own.
 * `check` stays a synchronous read of local memory: a failure reaches the siblings within one
 * IPC hop, so at most the guesses in flight at that moment pass the limit.
 */
export function shareAuthFailures(local: AuthFailures, channel: FailureChannel): AuthFailures {
  channel.onMessage((message) => {
    if (isAuthFailureMessage(message)) local.fail(message.client, message.at);
  });
  return {
    check: (client, now) => local.check(client, now),
    fail(client, now) {
      local.fail(client, now);
      channel.send({ type: AUTH_FAILURE_MESSAGE, client, at: now });
    },
  };
}

/** This process's channel to the primary, when it is a worker of `serve --processes`. */
export function processChannel(): FailureChannel | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  return {
    send: (message) => {
      // A primary that went away takes the workers with it; nothing to count then.
      if (process.connected) process.send?.(message);
    },
    onMessage: (listener) => {
      process.on('message', listener);
    },
  };
}
