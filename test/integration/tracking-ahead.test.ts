import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createSql, type Sql } from '../../src/db/sql.js';
import type { AppDeps } from '../../src/deps.js';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { messageLinks, OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { tracker } from '../../src/tracking/track.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// Opens and clicks answered before their message is read: a verified token whose id is below
// the horizon of known message ids gets its pixel or redirect with no statement sent, and its
// event is resolved with the rest of its batch when the buffer flushes, with the same customer,
// campaign, offer and machine flags as an event built from a message read first.

let h: Harness;
/** The app under test runs on a pool of its own that counts the statements it sends. */
let counted: Sql;
let statements = 0;
let deps: AppDeps;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  h = await createHarness();
  counted = createSql(h.db.url, { max: 4, idleTimeout: 2, debug: () => void statements++ });
  deps = { ...h.deps, sql: counted };
  app = createApp(deps);
}, 60_000);
afterAll(async () => {
  await flushTrackingEvents(deps);
  await counted?.end();
  await h?.close();
});

const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const HOUR = 3600_000;
let seq = 0;

async function customer(): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values (${`ahead-${++seq}`}, ${`ahead${seq}@example.com`})
    returning id`;
  return row!.id;
}

async function campaign(): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status) values (${`ahead ${++seq}`}, 'sent') returning id`;
  return row!.id;
}

async function offer(url: string): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into offers (name, title, category, url) values (${`o${++seq}`}, 'Offer', 'shoes', ${url}) returning id`;
  return row!.id;
}

async function message(input: {
  campaignId: number;
  customerId: number;
  offerIds?: number[];
  links?: Record<string, { url: string; offer_id: number | null }>;
  sentAt?: Date;
}): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, offer_ids, links, status, sent_at)
    values (${input.campaignId}, ${input.customerId}, ${input.offerIds ?? []}::bigint[],
            ${h.db.sql.json(input.links ?? {})}, 'sent', ${input.sentAt ?? new Date(Date.now() - HOUR)})
    returning id`;
  return row!.id;
}

const links = (id: number) => messageLinks('', deps.config.OFFERFLOW_SECRET, id);
const get = (path: string, init: { method?: string; ua?: string } = {}) =>
  app.request(path, { method: init.method ?? 'GET', headers: { 'user-agent': init.ua ?? BROWSER } });

async function eventsOf(messageId: number) {
  await flushTrackingEvents(deps);
  return h.db.sql<any[]>`
    select kind, customer_id, campaign_id, offer_id, machine, data from contact_events
    where message_id = ${messageId} order by id`;
}

/** Moves the horizon past every message made so far (a pixel above it asks for a reading). */
async function horizonPast(id: number) {
  const t = tracker(deps);
  for (let i = 0; i < 100 && !t.horizon.covers(id); i++) await new Promise((r) => setTimeout(r, 20));
  expect(t.horizon.covers(id)).toBe(true);
}

describe('tracking answered ahead of the message read', () => {
  it('answers pixels and signed-target clicks with no statement, then stores each event in full', async () => {
    const campaignId = await campaign();
    const offerId = await offer('https://shop.example/boots');
    const ids: number[] = [];
    const customers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const customerId = await customer();
      customers.push(customerId);
      ids.push(
        await message({
          campaignId,
          customerId,
          offerIds: [offerId],
          links: { [OFFER_LINK_BASE]: { url: `https://shop.example/boots?m=${i}`, offer_id: offerId } },
        }),
      );
    }
    await horizonPast(Math.max(...ids));
    await flushTrackingEvents(deps);
    const before = statements;
    const opens = await Promise.all(ids.slice(0, 3).map((id) => get(links(id).openPixelUrl)));
    const clicks = await Promise.all(
      ids.slice(3).map((id, i) => get(links(id).offerUrl(0, `https://shop.example/boots?m=${i + 3}`))),
    );
    // Not one round trip before the answers: the events wait in the buffer.
    expect(statements).toBe(before);
    expect(opens.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(opens[0]!.headers.get('content-type')).toBe('image/gif');
    expect(clicks.map((r) => [r.status, r.headers.get('location')])).toEqual([
      [302, 'https://shop.example/boots?m=3'],
      [302, 'https://shop.example/boots?m=4'],
      [302, 'https://shop.example/boots?m=5'],
    ]);

    // The flush resolves the whole batch in one lookup and stores it in one insert.
    const flushStart = statements;
    await flushTrackingEvents(deps);
    expect(statements - flushStart).toBeLessThanOrEqual(3);
    for (const [i, id] of ids.entries()) {
      const rows = await eventsOf(id);
      expect(rows).toEqual([
        expect.objectContaining(
          i < 3
            ? {
                kind: 'opened',
                customer_id: customers[i],
                campaign_id: campaignId,
                offer_id: null,
                machine: false,
              }
            : {
                kind: 'clicked',
                customer_id: customers[i],
                campaign_id: campaignId,
                offer_id: offerId,
                machine: false,
              },
        ),
      ]);
    }
  });

  it('classifies machine opens and clicks from the stored sent_at and the request, as before', async () => {
    const campaignId = await campaign();
    const justSent = await message({ campaignId, customerId: await customer(), sentAt: new Date() });
    const old = await message({ campaignId, customerId: await customer() });
    await horizonPast(old);
    expect((await get(links(justSent).offerUrl(0, 'https://shop.example/x'))).status).toBe(302);
    expect((await get(links(old).openPixelUrl, { ua: 'Mozilla/5.0' })).status).toBe(200);
    expect((await get(links(old).offerUrl(1, 'https://shop.example/y'), { method: 'HEAD' })).status).toBe(
      302,
    );
    expect((await eventsOf(justSent)).map((r) => [r.kind, r.machine, r.data.machine_reason])).toEqual([
      ['clicked', true, 'on_delivery'],
    ]);
    expect(
      (await eventsOf(old)).map((r) => [r.kind, r.machine, r.data.machine_reason, r.data.url ?? null]),
    ).toEqual([
      ['opened', true, 'apple_mpp', null],
      ['clicked', true, 'head_request', 'https://shop.example/y'],
    ]);
  });

  it('a signed target wins over a stored link edited since, the stored offer still counts', async () => {
    const offerId = await offer('https://shop.example/changed-later');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [offerId],
      links: { [OFFER_LINK_BASE]: { url: 'https://shop.example/changed-later', offer_id: offerId } },
    });
    await horizonPast(id);
    const res = await get(links(id).offerUrl(0, 'https://shop.example/as-mailed'));
    expect(res.headers.get('location')).toBe('https://shop.example/as-mailed');
    // Remembered now (the flush read it): the answer from memory goes to the same place.
    expect((await eventsOf(id)).map((r) => [r.offer_id, r.data.url])).toEqual([
      [offerId, 'https://shop.example/as-mailed'],
    ]);
    const again = await get(links(id).offerUrl(0, 'https://shop.example/as-mailed'));
    expect(again.headers.get('location')).toBe('https://shop.example/as-mailed');
  });

  it('refuses forged tokens and old target-less links to missing links, ahead or not', async () => {
    const id = await message({ campaignId: await campaign(), customerId: await customer() });
    await horizonPast(id);
    const forged = signToken('not-the-secret'.repeat(3), 'open', { messageId: id, linkIndex: 0 });
    expect((await get(`/t/o/${forged}`)).status).toBe(404);
    const forgedClick = signToken('not-the-secret'.repeat(3), 'click', {
      messageId: id,
      linkIndex: OFFER_LINK_BASE,
      target: 'https://evil.example',
    });
    const res = await get(`/t/c/${forgedClick}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
    // A link signed without its target still needs the stored one: this message has none.
    expect((await get(links(id).offerUrl(0))).status).toBe(404);
    // A signed id past every message is looked up first: unknown, 404.
    expect((await get(links(id + 1_000_000).openPixelUrl)).status).toBe(404);
    expect(await eventsOf(id)).toEqual([]);
  });

  it("drops the events of a deleted customer's messages without failing their batch", async () => {
    const campaignId = await campaign();
    const gone = await customer();
    const kept = await customer();
    const goneMessage = await message({ campaignId, customerId: gone });
    const keptMessage = await message({ campaignId, customerId: kept });
    await horizonPast(keptMessage);
    await h.db.sql`delete from customers where id = ${gone}`;
    expect((await get(links(goneMessage).openPixelUrl)).status).toBe(200);
    expect((await get(links(keptMessage).openPixelUrl)).status).toBe(200);
    expect(await eventsOf(goneMessage)).toEqual([]);
    expect((await eventsOf(keptMessage)).map((r) => r.customer_id)).toEqual([kept]);
  });
  it("reads the agent and the forwarded address from Node's headers when served over HTTP", async () => {
    const campaignId = await campaign();
    const viaApple = await message({ campaignId, customerId: await customer() });
    const person = await message({ campaignId, customerId: await customer() });
    await horizonPast(person);
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const apple = await fetch(base + links(viaApple).openPixelUrl, {
        headers: { 'user-agent': BROWSER, 'x-forwarded-for': '17.58.1.2, 10.0.0.1' },
      });
      expect(apple.status).toBe(200);
      const human = await fetch(base + links(person).offerUrl(0, 'https://shop.example/z'), {
        headers: { 'user-agent': BROWSER },
        redirect: 'manual',
      });
      expect(human.headers.get('location')).toBe('https://shop.example/z');
      const tool = await fetch(base + links(person).openPixelUrl, { headers: { 'user-agent': 'curl/8.0' } });
      expect(tool.status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect((await eventsOf(viaApple)).map((r) => [r.machine, r.data.machine_reason])).toEqual([
      [true, 'apple_mpp'],
    ]);
    expect((await eventsOf(person)).map((r) => [r.kind, r.machine, r.data.machine_reason ?? null])).toEqual([
      ['clicked', false, null],
      ['opened', true, 'tool_agent'],
    ]);
  });
});
