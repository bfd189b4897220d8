import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_URL } from '../../test/helpers/test-db.js';
import { createSql } from './sql.js';

// postgres.js 3.4.9 queues small writes on setImmediate; when the backend dies first, the queued
// write found a null socket and threw from the timer, an uncaught TypeError that took the whole
// process down (a worker, the API) on every PostgreSQL restart. patches/postgres+3.4.9.patch
// makes it reject the waiting queries with CONNECTION_CLOSED, which the send path retries.
describe('a PostgreSQL connection whose backend is gone', () => {
  const admin = createSql(ADMIN_URL, { max: 1 });
  const sql = createSql(ADMIN_URL, { max: 2 });
  afterAll(async () => {
    await sql.end({ timeout: 2 });
    await admin.end({ timeout: 2 });
  });

  it('rejects the next queries with CONNECTION_CLOSED instead of crashing the process', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const reserved = await sql.reserve();
      const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await admin`select pg_terminate_backend(${row!.pid})`;
      // Let the socket's close arrive before the next write is queued.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const outcome = await reserved`select 1 as x`.then(
          () => 'ok',
          (error: { code?: string }) => error.code ?? 'unknown',
        );
        codes.push(outcome);
      }
      await new Promise((resolve) => setImmediate(resolve));
      reserved.release();
      expect(codes).toEqual(['CONNECTION_CLOSED', 'CONNECTION_CLOSED', 'CONNECTION_CLOSED']);
      expect(uncaught).toEqual([]);
      // The pool still serves queries on its other connections.
      const [fresh] = await sql<{ x: number }[]>`select 1 as x`;
      expect(fresh!.x).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
