import net from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { createSql } from '../db/sql.js';
import type { AppEnv } from './env.js';
import { onError } from './on-error.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ max: 4 });
  await db.sql`create table pair (id int primary key, n int not null default 0)`;
  await db.sql`insert into pair (id) values (1), (2)`;
});
afterAll(async () => db?.drop());

/** A real deadlock: two transactions each hold one row and want the other's. */
async function deadlock(): Promise<unknown> {
  let holding = 0;
  let bothHold!: () => void;
  const ready = new Promise<void>((resolve) => {
    bothHold = resolve;
  });
  const cross = (first: number, second: number) =>
    db.sql.begin(async (tx) => {
      await tx`update pair set n = n + 1 where id = ${first}`;
      if (++holding === 2) bothHold();
      await ready;
      await tx`update pair set n = n + 1 where id = ${second}`;
    });
  const outcomes = await Promise.allSettled([cross(1, 2), cross(2, 1)]);
  const failed = outcomes.find((o) => o.status === 'rejected');
  return failed?.status === 'rejected' ? failed.reason : undefined;
}

describe('onError', () => {
  it('answers a deadlock with a 503 problem and Retry-After: the request may be sent again', async () => {
    const error = await deadlock();
    expect(error).toMatchObject({ name: 'PostgresError', code: '40P01' });
    const app = new Hono<AppEnv>();
    app.onError(onError);
    app.post('/v1/things', () => {
      throw error;
    });
    const res = await app.request('/v1/things', { method: 'POST' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({
      type: 'https://offerflow.dev/problems/retry',
      status: 503,
      detail: expect.stringContaining('nothing was saved'),
      instance: '/v1/things',
    });
  });

  it('answers a database that refuses connections with a 503 problem and Retry-After, not a 500', async () => {
    // A port nothing listens on: the same refusal a stopped PostgreSQL gives.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const down = createSql(`postgres://nobody:nothing@127.0.0.1:${port}/none`, { max: 1, connectTimeout: 2 });
    const app = new Hono<AppEnv>();
    app.onError(onError);
    app.get('/v1/things', async (c) => c.json(await down`select 1`));
    const res = await app.request('/v1/things');
    await down.end({ timeout: 1 });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toMatchObject({
      type: 'https://offerflow.dev/problems/unavailable',
      status: 503,
    });
  });
});
