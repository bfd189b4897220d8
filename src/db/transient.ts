/**
 * Which database errors mean "PostgreSQL could not take the statement right now" rather than
 * "the statement is wrong": a restart (connections refused or reset, 57P01 admin shutdown,
 * 57P03 starting up), a full server (53300 too many clients), a network drop, or a collision a
 * retry resolves (deadlock, serialization failure). One list for the sender, the tracking buffer
 * and the HTTP error mapping, so they never disagree about what is worth retrying.
 */
const TRANSIENT_SQLSTATES = new Set([
  '40P01', // deadlock detected
  '40001', // serialization failure
  '08000', // connection exception
  '08001', // could not connect
  '08003', // connection does not exist
  '08004', // server rejected the connection
  '08006', // connection failure
  '57P01', // admin shutdown (pg_ctl stop -m fast)
  '57P02', // crash shutdown (another backend died)
  '57P03', // cannot connect now (starting up, shutting down, recovering)
  '53300', // too many connections
  '53400', // configuration limit exceeded
]);

/** Node socket errors and postgres.js's own connection codes. */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** The codes that say PostgreSQL is unreachable or refusing work (not a deadlock). */
const UNAVAILABLE_SQLSTATES = new Set([...TRANSIENT_SQLSTATES].filter((c) => !c.startsWith('40')));

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // An AggregateError (a refused IPv4 and IPv6 connect) carries the code on its members.
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) for (const inner of errors) if (codeOf(inner)) return codeOf(inner);
  return undefined;
}

/** True for an error a retry of the same statement can cure (see the list above). */
export function isTransientDbError(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code));
}

/** True when PostgreSQL is down, restarting or full: the request should be retried later (503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (UNAVAILABLE_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code));
}

export interface RetryOptions {
  /** Give up (rethrow the last error) once this much time has passed since the first try. */
  forMs: number;
  /** The longest wait between two tries. */
  maxDelayMs?: number;
  /** Called before each wait, e.g. to log. */
  onRetry?: (error: unknown, attempt: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `run` again while it fails with a transient database error, with jittered exponential
 * waits (20 ms doubling up to `maxDelayMs`), for up to `forMs` in all. Any other error, or a
 * transient one past the deadline, is thrown. `run` must be safe to repeat.
 */
export async function retryTransient<T>(run: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  const maxDelay = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isTransientDbError(error)) throw error;
      const delay = Math.min(maxDelay, 20 * 2 ** Math.min(attempt, 16)) * (0.5 + Math.random() / 2);
      if (Date.now() - started + delay > options.forMs) throw error;
      options.onRetry?.(error, attempt);
      await sleep(delay);
    }
  }
}
