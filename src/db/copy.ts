import type { Db } from './sql.js';

/**
 * Runs `COPY … FROM STDIN` (the statement, written by the caller from trusted parts) with
 * `data` as its whole input, and settles once PostgreSQL has taken it: rejects with
 * PostgreSQL's error (the transaction is then aborted) when it refused the data.
 */
export async function copyIn(db: Db, statement: string, data: string | Buffer): Promise<void> {
  const writable = await db.unsafe(statement).writable();
  writable.end(data);
  // postgres.js never settles the stream when PostgreSQL refuses the data (the error is dropped
  // once the query has resolved to the stream). So wait until it has sent CopyDone, then ask
  // the connection: a failed COPY leaves the transaction aborted and this query rejects.
  const state = (writable as unknown as { _writableState: { finalCalled: boolean } })._writableState;
  while (!state.finalCalled) await new Promise((resolve) => setImmediate(resolve));
  await db`select 1`;
}
