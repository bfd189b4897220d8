import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createSql, type Sql } from '../../src/db/sql.js';
import type { AppDeps } from '../../src/deps.js';
import { runUploadedImport } from '../../src/imports/run.js';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken, type TokenPurpose } from '../../src/tracking/tokens.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Attribution whatever the order in which a click and the purchase it preceded reach the
// database: clicks wait in each API process's buffer before they are written.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
let seq = 0;

const token = (purpose: TokenPurpose, messageId: number, linkIndex = 0) =>
  signToken(h.deps.config.OFFERFLOW_SECRET, purpose, { messageId, linkIndex });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Shop {
  customerId: number;
  externalId: string;
  messageId: number;
  campaignId: number;
  offerId: number;
}

/** A customer who was sent one campaign message showing one offer in category `shoes`. */
async function shop(): Promise<Shop> {
  const n = ++seq;
  const externalId = `order-${n}`;
  const [c] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values (${externalId}, ${`o${n}@example.com`}) returning id`;
  const [o] = await h.db.sql<{ id: number }[]>`
    insert into offers (name, title, category, url) values (${`Boots ${n}`}, 'Boots', 'shoes', 'https://shop.example/boots')
    returning id`;
  const [k] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status) values (${`campaign ${n}`}, 'sent') returning id`;
  const [m] = await h.db.sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, offer_ids, status, sent_at)
    values (${k!.id}, ${c!.id}, ${[o!.id]}::bigint[], 'sent', now() - interval '1 hour') returning id`;
  return { customerId: c!.id, externalId, messageId: m!.id, campaignId: k!.id, offerId: o!.id };
}

const line = (s: Shop, amount: number, at = new Date()) => ({
  external_line_id: `line-${++seq}`,
  customer_external_id: s.externalId,
  order_ref: `A-${seq}`,
  category: 'shoes',
  amount,
  currency: 'EUR',
  purchased_at: at.toISOString(),
});

async function conversionsOf(customerId: number) {
  return h.db.sql<{ message_id: number; offer_id: number | null; purchase_id: number; data: any }[]>`
    select message_id, offer_id, purchase_id, data from contact_events
    where customer_id = ${customerId} and kind = 'converted' order by id`;
}

async function click(request: (path: string) => Promise<Response>, s: Shop, messageId = s.messageId) {
  const res = await request(`/t/c/${token('click', messageId, OFFER_LINK_BASE)}`);
  expect(res.status).toBe(302);
}

const viaHarness = (path: string) => h.get(path, { role: null, headers: { 'user-agent': BROWSER } });

describe('attribution in any arrival order (through HTTP)', () => {
  it('a click, then a purchase 10 ms later while the click is still buffered: one conversion with its revenue', async () => {
    const s = await shop();
    await click(viaHarness, s);
    await sleep(10);
    const res = await h.post('/v1/purchases', [line(s, 79.9)], { role: 'integrator' });
    expect(res.status).toBe(201);
    // The click reached the database after the purchase: its flush attributes it.
    await flushTrackingEvents(h.deps);
    const rows = await conversionsOf(s.customerId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      message_id: s.messageId,
      offer_id: s.offerId,
      data: { revenue: 79.9, currency: 'EUR', touch: 'clicked' },
    });
    // Flushing again or re-posting the line changes nothing.
    await flushTrackingEvents(h.deps);
    expect(await conversionsOf(s.customerId)).toHaveLength(1);
  });

  it('the click written first, then the purchase: the same single conversion', async () => {
    const s = await shop();
    await click(viaHarness, s);
    await flushTrackingEvents(h.deps);
    await sleep(10);
    const res = await h.post('/v1/purchases', [line(s, 79.9)], { role: 'integrator' });
    expect(res.status).toBe(201);
    await flushTrackingEvents(h.deps);
    const rows = await conversionsOf(s.customerId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ message_id: s.messageId, offer_id: s.offerId, data: { revenue: 79.9 } });
  });

  it('a later click that lands after the purchase moves its conversion (still one)', async () => {
    const s = await shop();
    const [later] = await h.db.sql<{ id: number }[]>`
      insert into campaigns (name, status) values (${`campaign ${++seq}`}, 'sent') returning id`;
    const [second] = await h.db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, offer_ids, status, sent_at)
      values (${later!.id}, ${s.customerId}, ${[s.offerId]}::bigint[], 'sent', now() - interval '30 minutes') returning id`;
    const open = await viaHarness(`/t/o/${token('open', s.messageId)}`);
    expect(open.status).toBe(200);
    await flushTrackingEvents(h.deps);
    // Dated a minute ahead (a till's clock): the click below still comes before it.
    const res = await h.post('/v1/purchases', [line(s, 30, new Date(Date.now() + 60_000))], {
      role: 'integrator',
    });
    expect(res.status).toBe(201);
    expect(await conversionsOf(s.customerId)).toMatchObject([
      { message_id: s.messageId, data: { touch: 'opened' } },
    ]);
    await click(viaHarness, s, second!.id);
    await flushTrackingEvents(h.deps);
    expect(await conversionsOf(s.customerId)).toMatchObject([
      { message_id: second!.id, offer_id: s.offerId, data: { touch: 'clicked', revenue: 30 } },
    ]);
  });

  it('an imported line bought after a click still buffered: one conversion once the click lands', async () => {
    const s = await shop();
    await click(viaHarness, s);
    const at = new Date(Date.now() + 1000).toISOString();
    const csv = `external_line_id,customer_external_id,order_ref,category,amount,purchased_at\nimp-${s.externalId},${s.externalId},I-1,shoes,55.5,${at}\n`;
    const res = await h.post('/v1/imports?kind=purchases', csv, { headers: { 'content-type': 'text/csv' } });
    expect(res.status).toBe(202);
    expect(
      await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, (await json(res)).id),
    ).toMatchObject({
      created: 1,
    });
    // Whether the buffer's timer wrote the click during the import or the flush below does.
    await flushTrackingEvents(h.deps);
    expect(await conversionsOf(s.customerId)).toMatchObject([
      { message_id: s.messageId, offer_id: s.offerId, data: { revenue: 55.5 } },
    ]);
    // The import run again (a retried job) converts nothing twice.
    const again = await h.post('/v1/imports?kind=purchases', csv, {
      headers: { 'content-type': 'text/csv' },
    });
    await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, (await json(again)).id);
    expect(await conversionsOf(s.customerId)).toHaveLength(1);
  });

  it('a purchase before the click stays unattributed', async () => {
    const s = await shop();
    const res = await h.post('/v1/purchases', [line(s, 12, new Date(Date.now() - 60_000))], {
      role: 'integrator',
    });
    expect(res.status).toBe(201);
    await click(viaHarness, s);
    await flushTrackingEvents(h.deps);
    expect(await conversionsOf(s.customerId)).toEqual([]);
  });
});

describe('two API processes on one database', () => {
  interface Process {
    deps: AppDeps;
    sql: Sql;
    server: ServerType;
    url: string;
  }
  const processes: Process[] = [];

  /** An app as `offerflow serve` builds it, with its own pool and buffers, on a real socket. */
  async function start(): Promise<Process> {
    const sql = createSql(h.db.url, { max: 4, idleTimeout: 2 });
    const deps: AppDeps = {
      ...h.deps,
      sql,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
    };
    const app = createApp(deps);
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    const p = { deps, sql, server, url: `http://127.0.0.1:${port}` };
    processes.push(p);
    return p;
  }

  afterAll(async () => {
    for (const p of processes) {
      await flushTrackingEvents(p.deps);
      await new Promise<void>((resolve) => p.server.close(() => resolve()));
      await p.sql.end({ timeout: 5 });
    }
  });

  it('clicks on one process, purchases 10 ms later on the other, all at once: each converted once', async () => {
    const [a, b] = [await start(), await start()];
    const key = await h.keyFor('integrator');
    const shops = await Promise.all(Array.from({ length: 12 }, () => shop()));
    await Promise.all(
      shops.map(async (s, i) => {
        // Half click on A and buy on B, half the other way round.
        const [clickOn, buyOn] = i % 2 === 0 ? [a, b] : [b, a];
        await click(
          (path) =>
            fetch(`${clickOn.url}${path}`, { headers: { 'user-agent': BROWSER }, redirect: 'manual' }),
          s,
        );
        await sleep(10);
        const res = await fetch(`${buyOn.url}/v1/purchases`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify([line(s, 10 + i)]),
        });
        expect(res.status).toBe(201);
      }),
    );
    await Promise.all([flushTrackingEvents(a.deps), flushTrackingEvents(b.deps)]);
    for (const [i, s] of shops.entries()) {
      const rows = await conversionsOf(s.customerId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ message_id: s.messageId, data: { revenue: 10 + i } });
    }
    // Counted once by the database, not by luck: a second conversion of a line is refused.
    const [first] = await conversionsOf(shops[0]!.customerId);
    await expect(
      h.db.sql`insert into contact_events (customer_id, kind, message_id, purchase_id, at)
        values (${shops[0]!.customerId}, 'converted', ${first!.message_id}, ${first!.purchase_id}, now())`,
    ).rejects.toMatchObject({ code: '23505' });
  });
});
