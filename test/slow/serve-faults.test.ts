import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { messageLinks } from '../../src/tracking/links.js';
import { freePort } from '../helpers/private-services.js';
import { eventually, type PrivateStack, startPrivateStack } from '../helpers/private-stack.js';

// `offerflow serve` (a child process) through faults, against a PostgreSQL cluster and a Redis
// of this file's own: SIGTERM and SIGKILL under tracking load (no acknowledged open or click is
// lost), tracking while PostgreSQL is down (clicks still redirect, events stored after), and the
// API and /healthz with PostgreSQL or Redis down (503 quickly, a recorded launch answers).

const MESSAGES = 20_000;
let s: PrivateStack;
let spoolDir: string;
let port: number;
let server: ChildProcess | undefined;
let campaignId: number;
/** Message ids in order; each test takes fresh ones, so each request is one distinct event. */
let ids: number[] = [];
let next = 0;
const take = (n: number) => {
  const taken = ids.slice(next, next + n);
  next += n;
  if (taken.length < n) throw new Error('out of seeded messages');
  return taken;
};

beforeAll(async () => {
  s = await startPrivateStack();
  spoolDir = mkdtempSync('/tmp/offerflow-spool-');
  port = await freePort();
  const [campaign] = await s.sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('tracked', 'sent') returning id`;
  campaignId = campaign!.id;
  await s.sql`
    insert into customers (external_id, email)
    select 't' || i, 't' || i || '@example.com' from generate_series(1, ${MESSAGES}) as i`;
  const rows = await s.sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, status, sent_at, links)
    select ${campaignId}, id, 'sent', now() - interval '1 day',
      jsonb_build_object('16', jsonb_build_object('url', 'https://shop.example/p/' || id, 'offer_id', null))
    from customers order by id returning id`;
  ids = rows.map((r) => r.id);
}, 120_000);
afterEach(async () => {
  if (s.redis) await s.redis.start().catch(() => {});
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await s?.close();
  rmSync(spoolDir, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${port}`;
const target = (id: number) => `https://shop.example/p/${id}`;
const openPath = (id: number) =>
  new URL(messageLinks('', s.config.OFFERFLOW_SECRET, id).openPixelUrl, base()).pathname;
const clickPath = (id: number) =>
  new URL(messageLinks('', s.config.OFFERFLOW_SECRET, id).offerUrl(0, target(id)), base()).pathname;

async function startServe(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: s.databaseUrl,
      REDIS_URL: s.redis.url,
      PORT: String(port),
      PUBLIC_URL: base(),
      TRACKING_SPOOL_DIR: spoolDir,
      LOG_LEVEL: process.env.SERVE_LOG_LEVEL ?? 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('is serving')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  server = child;
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

interface Ack {
  id: number;
  kind: 'opened' | 'clicked';
}

/**
 * Tracking load: `workers` loops, each request on a message of its own, alternating opens and
 * clicks, until `stop()` says so or the server goes away. Returns what the server acknowledged
 * (a pixel, or a redirect to the message's link).
 */
function trackingLoad(workers = 16) {
  const acked: Ack[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      const [id] = take(1);
      const kind = id! % 2 ? 'opened' : 'clicked';
      try {
        const res = await fetch(base() + (kind === 'opened' ? openPath(id!) : clickPath(id!)), {
          redirect: 'manual',
        });
        await res.arrayBuffer();
        if (
          kind === 'opened'
            ? res.status === 200
            : res.status === 302 && res.headers.get('location') === target(id!)
        )
          acked.push({ id: id!, kind });
      } catch {
        // Refused or reset by a server going down: not acknowledged. The server does not come
        // back during one load, so the loop ends here rather than spend seeded messages on
        // refused connections (on a quiet machine that ran the seed out).
        return;
      }
    }
  });
  return {
    acked,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Acknowledged events with no stored contact event, and events stored more than once. */
async function lostAndDoubled(acked: Ack[]) {
  const rows = await s.sql<{ message_id: number; kind: string; n: number }[]>`
    select message_id, kind, count(*)::int as n from contact_events
    where message_id = any(${acked.map((a) => a.id)}::bigint[]) and kind in ('opened', 'clicked')
    group by message_id, kind`;
  const stored = new Map(rows.map((r) => [`${r.message_id}:${r.kind}`, r.n]));
  return {
    lost: acked.filter((a) => !stored.has(`${a.id}:${a.kind}`)).length,
    doubled: rows.filter((r) => r.n > 1).length,
  };
}

const figure = (fault: string, values: Record<string, number>) =>
  process.stdout.write(`[fault figures] ${fault}: ${JSON.stringify(values)}\n`);

describe('serve through faults', () => {
  it('SIGTERM under tracking load: every acknowledged open and click is stored', async () => {
    const child = await startServe();
    const load = trackingLoad();
    await eventually(async () => load.acked.length >= 500, 30_000, 'tracking load');
    child.kill('SIGTERM');
    await exited(child);
    await load.stop();
    const result = await lostAndDoubled(load.acked);
    figure('SIGTERM of serve under tracking load', { acknowledged: load.acked.length, ...result });
    expect(load.acked.length).toBeGreaterThan(0);
    expect(result).toEqual({ lost: 0, doubled: 0 });
  });

  it('SIGKILL under tracking load: every acknowledged event is stored once the server is back', async () => {
    const child = await startServe();
    const load = trackingLoad();
    await eventually(async () => load.acked.length >= 500, 30_000, 'tracking load');
    child.kill('SIGKILL');
    await exited(child);
    await load.stop();
    const [before] = await s.sql<{ n: number }[]>`
      select count(*)::int as n from contact_events where message_id = any(${load.acked.map((a) => a.id)}::bigint[])`;
    // The restarted server replays what the killed one journaled.
    await startServe();
    const result = await eventually(
      async () => {
        const r = await lostAndDoubled(load.acked);
        return r.lost === 0 ? r : null;
      },
      30_000,
      'every acknowledged event stored',
    );
    figure('SIGKILL of serve under tracking load', {
      acknowledged: load.acked.length,
      stored_before_restart: before!.n,
      ...result,
    });
    expect(result).toEqual({ lost: 0, doubled: 0 });
  });

  it('PostgreSQL down: clicks redirect, pixels answer, the API says 503 quickly, events are stored after', async () => {
    if (!server || server.exitCode !== null) await startServe();
    const fresh = take(200);
    await s.pg.stop();
    try {
      const health = await timed((signal) => fetch(`${base()}/healthz`, { signal }));
      expect(health.response.status).toBe(503);
      expect(((await health.response.json()) as { checks: { database: string } }).checks.database).toMatch(
        /^error/,
      );

      const api = await timed(
        (signal) =>
          fetch(`${base()}/v1/customers`, { signal, headers: { authorization: `Bearer ${s.adminKey}` } }),
        5000,
      );
      expect(api.response.status).toBe(503);
      expect(api.response.headers.get('retry-after')).toBe('5');
      expect(api.response.headers.get('content-type')).toContain('application/problem+json');

      for (const id of fresh) {
        if (id % 2) {
          const res = await fetch(base() + openPath(id));
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toBe('image/gif');
        } else {
          const res = await fetch(base() + clickPath(id), { redirect: 'manual' });
          expect(res.status).toBe(302);
          expect(res.headers.get('location')).toBe(target(id));
        }
      }
      figure('PostgreSQL down, tracking', {
        clicks_redirected: fresh.filter((id) => id % 2 === 0).length,
        pixels_answered: fresh.filter((id) => id % 2).length,
        healthz_ms: Math.round(health.ms),
        api_503_ms: Math.round(api.ms),
      });
    } finally {
      await s.pg.start();
    }
    const acked: Ack[] = fresh.map((id) => ({ id, kind: id % 2 ? 'opened' : 'clicked' }));
    const result = await eventually(
      async () => {
        const r = await lostAndDoubled(acked);
        return r.lost === 0 ? r : null;
      },
      30_000,
      'the deferred events stored',
    );
    expect(result).toEqual({ lost: 0, doubled: 0 });
    // Stored as if the database had been there: the right customer, campaign and link.
    const clicks = await s.sql<
      { customer_id: number; campaign_id: number; url: string; message_id: number }[]
    >`
      select e.customer_id, e.campaign_id, e.data ->> 'url' as url, e.message_id
      from contact_events e where e.kind = 'clicked' and e.message_id = any(${fresh}::bigint[])`;
    const owners = new Map(
      (
        await s.sql<{ id: number; customer_id: number }[]>`
        select id, customer_id from messages where id = any(${fresh}::bigint[])`
      ).map((m) => [m.id, m.customer_id]),
    );
    expect(clicks).toHaveLength(100);
    for (const click of clicks) {
      expect(click).toMatchObject({ campaign_id: campaignId, url: target(click.message_id) });
      expect(click.customer_id).toBe(owners.get(click.message_id));
    }
  });

  it('Redis down: /healthz answers 503 within 2 s and a launch that was recorded answers', async () => {
    if (!server || server.exitCode !== null) await startServe();
    const auth = { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' };
    const [segment] = await s.sql<{ id: number }[]>`
      insert into segments (name, rule) values ('all', ${s.sql.json({ '==': [1, 1] } as never)}) returning id`;
    const template = await fetch(`${base()}/v1/templates`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: 'plain',
        subject: 'Hello',
        mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>',
      }),
    });
    expect(template.status).toBe(201);
    const { id: templateId } = (await template.json()) as { id: number };
    const created = await fetch(`${base()}/v1/campaigns`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'while redis is down', segment_id: segment!.id, template_id: templateId }),
    });
    const { id } = (await created.json()) as { id: number };

    await s.redis.kill();
    const health = await timed((signal) => fetch(`${base()}/healthz`, { signal }));
    expect(health.response.status).toBe(503);
    expect(((await health.response.json()) as { checks: { redis: string } }).checks.redis).toMatch(/^error/);

    const launch = await timed(
      (signal) => fetch(`${base()}/v1/campaigns/${id}/launch`, { method: 'POST', headers: auth, signal }),
      5000,
    );
    expect(launch.response.status).toBe(200);
    expect(((await launch.response.json()) as { status: string }).status).toBe('sending');
    const [row] = await s.sql<{ status: string }[]>`select status from campaigns where id = ${id}`;
    expect(row!.status).toBe('sending');
    figure('Redis down, API', { healthz_ms: Math.round(health.ms), launch_ms: Math.round(launch.ms) });
  });
});

/** A request that must answer within `deadlineMs` (it is aborted, and the test fails, otherwise). */
async function timed(
  request: (signal: AbortSignal) => Promise<Response>,
  deadlineMs = 2000,
): Promise<{ response: Response; ms: number }> {
  const started = performance.now();
  const response = await request(AbortSignal.timeout(deadlineMs));
  return { response, ms: performance.now() - started };
}
