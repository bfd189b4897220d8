import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/http/api-keys.js';
import { messageLinks } from '../../src/tracking/links.js';
import { freePort } from '../helpers/private-services.js';
import { eventually } from '../helpers/private-stack.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';

// `offerflow serve --processes 2` as a child process: both workers answer on the one port,
// tracking events acknowledged by either are stored exactly once (even from a worker killed -9,
// replaced by the primary), METRICS_LISTEN sums both, and the credential-failure limit holds
// for the whole server rather than per process.

const MESSAGES = 300;
const AUTH_LIMIT = 6;
let db: TestDatabase;
let spoolDir: string;
let port: number;
let metricsPort: number;
let server: ChildProcess;
let adminKey: string;
let ids: number[] = [];
let next = 0;
const take = (n: number) => {
  const taken = ids.slice(next, next + n);
  next += n;
  return taken;
};

const base = () => `http://127.0.0.1:${port}`;
let secret = '';
const openPath = (id: number) => new URL(messageLinks('', secret, id).openPixelUrl, base()).pathname;
/** Every request on a connection of its own, so the primary hands each to the next worker. */
const get = (path: string, headers: Record<string, string> = {}, timeoutMs = 30_000) =>
  fetch(base() + path, {
    headers: { connection: 'close', 'user-agent': 'Mozilla/5.0 (X11; Linux)', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
/** Opens the server answered with a pixel. */
let acked = 0;

/** Pids of the workers whose tracking spool segment holds something. */
const spoolWriters = () =>
  new Set(
    readdirSync(spoolDir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && statSync(join(f.parentPath, f.name)).size > 0)
      .map((f) => /^events-(\d+)-/.exec(f.name)?.[1])
      .filter((pid): pid is string => pid !== undefined),
  );

/** Pids of every spool segment on disk (a worker opens its own at start). */
const spoolPids = () =>
  new Set(
    readdirSync(spoolDir, { recursive: true })
      .map((name) => /events-(\d+)-/.exec(String(name))?.[1])
      .filter((pid): pid is string => pid !== undefined),
  );

beforeAll(async () => {
  db = await createTestDatabase();
  spoolDir = mkdtempSync('/tmp/offerflow-spool-');
  port = await freePort();
  metricsPort = await freePort();
  secret = 'processes-test-secret-0123456789-abcdefghij';
  adminKey = (await createApiKey(db.sql, { name: 'processes', role: 'admin' })).key;
  const [campaign] = await db.sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('tracked', 'sent') returning id`;
  await db.sql`
    insert into customers (external_id, email)
    select 'p' || i, 'p' || i || '@example.com' from generate_series(1, ${MESSAGES}) as i`;
  const rows = await db.sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, status, sent_at)
    select ${campaign!.id}, id, 'sent', now() - interval '1 day' from customers order by id returning id`;
  ids = rows.map((r) => r.id);
  server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--processes', '2'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      PORT: String(port),
      PUBLIC_URL: base(),
      OFFERFLOW_SECRET: secret,
      TRACKING_SPOOL_DIR: spoolDir,
      METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      AUTH_FAILURE_LIMIT: String(AUTH_LIMIT),
      QUEUE_PREFIX: `proc_${randomBytes(4).toString('hex')}`,
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('with 2 processes')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}, 120_000);
afterAll(async () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  rmSync(spoolDir, { recursive: true, force: true });
  await db?.drop();
});

describe('serve --processes 2', () => {
  it('both processes answer tracking on the one port, and METRICS_LISTEN counts both', async () => {
    for (const id of take(100)) {
      const res = await get(openPath(id));
      expect(res.status).toBe(200);
      acked += 1;
      await res.arrayBuffer();
    }
    expect(spoolWriters().size).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const counted = [...metrics.matchAll(/^offerflow_tracking_requests_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    expect(counted).toBe(100);
  });

  it('a worker killed -9 is replaced; the events it acknowledged are stored by its successor', async () => {
    const victim = Number([...spoolWriters()][0]);
    const pidsBefore = spoolPids();
    process.kill(victim, 'SIGKILL');
    // A connection the primary handed to the victim as it died is never answered (Node's
    // cluster waits for the dead worker's acknowledgement): only answered opens count.
    for (const id of take(40)) {
      const res = await get(openPath(id), {}, 5000).catch(() => undefined);
      if (res?.status === 200) acked += 1;
      await res?.arrayBuffer();
    }
    expect(acked).toBeGreaterThan(100);
    // The replacement starts its own segment and adopts the victim's (deleted once replayed).
    await eventually(
      async () => [...spoolPids()].some((pid) => !pidsBefore.has(pid)) && !spoolPids().has(String(victim)),
      120_000,
      'a replacement worker replaying the victim spool',
    );
    const res = await get(openPath(take(1)[0]!));
    expect(res.status).toBe(200);
    acked += 1;
  });

  it('the credential-failure limit holds across the processes', async () => {
    // Each bad key lands on the next process; counted apart, each would see half of them.
    for (let i = 0; i < AUTH_LIMIT; i++) {
      const res = await get('/v1/customers', { authorization: `Bearer bad-${i}` });
      expect(res.status).toBe(401);
    }
    for (let i = 0; i < 4; i++) {
      const res = await get('/v1/customers', { authorization: `Bearer ${adminKey}` });
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('SIGTERM stops every process, and every acknowledged open is stored exactly once', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    const [row] = await db.sql<{ events: number; messages: number }[]>`
      select count(*)::int as events, count(distinct message_id)::int as messages
      from contact_events where kind = 'opened'`;
    // An open the victim stored but never answered is stored too: at most the one in flight.
    expect(row!.events).toBe(row!.messages);
    expect(row!.events).toBeGreaterThanOrEqual(acked);
    expect(row!.events).toBeLessThanOrEqual(acked + 1);
  });
});
