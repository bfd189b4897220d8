import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, unknown>>;
/** A handle that may be the pool or a transaction: every store function accepts either. */
export type Db = Sql | postgres.TransactionSql<Record<string, unknown>>;
/** A piece of SQL built with a handle's template tag, to be nested in another query. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;

export interface SqlOptions {
  max?: number;
  /** Close idle connections after this many seconds (tests want it short). */
  idleTimeout?: number;
  /** Seconds to wait for a connection to open (default 10; the HTTP API uses less). */
  connectTimeout?: number;
  /** The longest pause between two reconnection attempts, in seconds (default 2). */
  maxBackoffSeconds?: number;
  onnotice?: (notice: postgres.Notice) => void;
  /** Called with each statement sent (postgres.js `debug`): tests count round trips with it. */
  debug?: (connection: number, query: string, parameters: unknown[]) => void;
}

/**
 * Opens a pool. bigint ids and numeric amounts come back as JS numbers: ids stay below 2^53 and
 * amounts are numeric(14,2), so no precision is lost and the JSON API can pass them through.
 */
export function createSql(url: string, options: SqlOptions = {}): Sql {
  const maxBackoff = options.maxBackoffSeconds ?? 2;
  return postgres(url, {
    max: options.max ?? 10,
    idle_timeout: options.idleTimeout ?? 30,
    connect_timeout: options.connectTimeout ?? 10,
    // postgres.js waits up to 20 s between reconnection attempts after failures, shared by the
    // whole pool: every query then waits that long, and after a PostgreSQL restart the process
    // stays idle for up to 20 s more. A failed connect on a down server costs next to nothing.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, maxBackoff),
    onnotice: options.onnotice ?? (() => {}),
    ...(options.debug ? { debug: options.debug } : {}),
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number | bigint | string) => String(value),
        parse: (value: string) => Number(value),
      },
      numeric: {
        to: 1700,
        from: [1700],
        serialize: (value: number | string) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  }) as unknown as Sql;
}
