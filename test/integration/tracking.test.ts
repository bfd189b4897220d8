import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attributePurchases } from '../../src/conversions/attribute.js';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { emailHash } from '../../src/tracking/suppress.js';
import { signToken, type TokenPurpose } from '../../src/tracking/tokens.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const HOUR = 3600_000;
let seq = 0;

const token = (purpose: TokenPurpose, messageId: number, linkIndex = 0) =>
  signToken(h.deps.config.OFFERFLOW_SECRET, purpose, { messageId, linkIndex });

async function customer(email = `c${++seq}@example.com`): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values (${`ext-${++seq}`}, ${email}) returning id`;
  return row!.id;
}

async function offer(name: string, category: string, url: string): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into offers (name, title, category, url) values (${name}, ${name}, ${category}, ${url}) returning id`;
  return row!.id;
}

async function campaign(attribution?: { click_days: number; open_days: number }): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status, attribution)
    values (${`campaign ${++seq}`}, 'sent', ${h.db.sql.json(attribution ?? { click_days: 7, open_days: 1 })})
    returning id`;
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

async function events(messageId: number, kind?: string) {
  await flushTrackingEvents(h.deps);
  return h.db.sql<any[]>`
    select * from contact_events where message_id = ${messageId} and (${kind ?? null}::text is null or kind = ${kind ?? null})
    order by id`;
}

describe('open pixel', () => {
  it('serves an uncached 1x1 GIF and records a human open with message and campaign', async () => {
    const campaignId = await campaign();
    const customerId = await customer();
    const id = await message({ campaignId, customerId });
    const res = await h.get(`/t/o/${token('open', id)}`, { role: null, headers: { 'user-agent': BROWSER } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(new Uint8Array(await res.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode('GIF89a'));
    const rows = await events(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'opened',
      customer_id: customerId,
      campaign_id: campaignId,
      machine: false,
    });
  });

  it('flags Apple Mail Privacy Protection prefetches as machine opens', async () => {
    const id = await message({ campaignId: await campaign(), customerId: await customer() });
    await h.get(`/t/o/${token('open', id)}`, { role: null, headers: { 'user-agent': 'Mozilla/5.0' } });
    const [row] = await events(id);
    expect(row).toMatchObject({ kind: 'opened', machine: true, data: { machine_reason: 'apple_mpp' } });
  });

  it('answers 404 to a tampered or unknown token and records nothing', async () => {
    const id = await message({ campaignId: await campaign(), customerId: await customer() });
    const good = token('open', id);
    const tampered = `${good.slice(0, 5)}${good[5] === 'A' ? 'B' : 'A'}${good.slice(6)}`;
    expect((await h.get(`/t/o/${tampered}`, { role: null })).status).toBe(404);
    expect((await h.get(`/t/o/${token('open', 999_999_999)}`, { role: null })).status).toBe(404);
    expect((await h.get(`/t/o/${token('click', id)}`, { role: null })).status).toBe(404);
    expect(await events(id)).toHaveLength(0);
  });
});

describe('click redirect', () => {
  it('redirects only to the link stored on the message and records the click with its offer', async () => {
    const offerId = await offer('Boots', 'shoes', 'https://shop.example/changed-later');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [offerId],
      links: { [OFFER_LINK_BASE]: { url: 'https://shop.example/boots?utm=mail', offer_id: offerId } },
    });
    const res = await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE)}?url=https://evil.example`, {
      role: null,
      headers: { 'user-agent': BROWSER },
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example/boots?utm=mail');
    const [row] = await events(id, 'clicked');
    expect(row).toMatchObject({ offer_id: offerId, machine: false, data: { link: OFFER_LINK_BASE } });
  });

  it('falls back to the offer url for a message sent without stored links', async () => {
    const first = await offer('Hat', 'hats', 'https://shop.example/hat');
    const second = await offer('Scarf', 'hats', 'https://shop.example/scarf');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [first, second],
    });
    const res = await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE + 1)}`, { role: null });
    expect(res.headers.get('location')).toBe('https://shop.example/scarf');
  });

  it('answers 404 without a redirect for tampered tokens and links the message does not have', async () => {
    const offerId = await offer('Bag', 'bags', 'https://shop.example/bag');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [offerId],
    });
    const good = token('click', id, OFFER_LINK_BASE);
    const tampered = `${good.slice(0, 10)}${good[10] === 'x' ? 'y' : 'x'}${good.slice(11)}`;
    for (const path of [
      `/t/c/${tampered}`,
      `/t/c/${token('click', id, OFFER_LINK_BASE + 5)}`,
      '/t/c/not-a-token',
    ]) {
      const res = await h.get(path, { role: null });
      expect(res.status).toBe(404);
      expect(res.headers.get('location')).toBeNull();
    }
    expect(await events(id)).toHaveLength(0);
  });

  it('flags a click seconds after delivery as a link scanner', async () => {
    const offerId = await offer('Belt', 'belts', 'https://shop.example/belt');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [offerId],
      sentAt: new Date(),
    });
    const res = await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE)}`, {
      role: null,
      headers: { 'user-agent': BROWSER },
    });
    expect(res.status).toBe(302);
    const [row] = await events(id, 'clicked');
    expect(row).toMatchObject({ machine: true, data: { machine_reason: 'on_delivery' } });
  });
});

describe('tracking fast path', () => {
  it('serves repeated fetches of a remembered message the same way, each one recorded', async () => {
    const offerId = await offer('Cap', 'caps', 'https://shop.example/cap');
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      offerIds: [offerId],
      links: { [OFFER_LINK_BASE]: { url: 'https://shop.example/käppi', offer_id: offerId } },
    });
    const click = `/t/c/${token('click', id, OFFER_LINK_BASE)}`;
    for (let i = 0; i < 3; i++) {
      const res = await h.get(click, { role: null, headers: { 'user-agent': BROWSER } });
      expect(res.status).toBe(302);
      // Latin-1 passes as it is, like Hono's c.redirect.
      expect(res.headers.get('location')).toBe('https://shop.example/käppi');
    }
    const head = await h.request('HEAD', click, { role: null, headers: { 'user-agent': BROWSER } });
    expect(head.status).toBe(302);
    const pixel = `/t/o/${token('open', id)}`;
    for (let i = 0; i < 2; i++) {
      expect((await h.get(pixel, { role: null, headers: { 'user-agent': BROWSER } })).status).toBe(200);
    }
    const rows = await events(id);
    expect(rows.map((r) => [r.kind, r.machine, r.data.machine_reason ?? null])).toEqual([
      ['clicked', false, null],
      ['clicked', false, null],
      ['clicked', false, null],
      ['clicked', true, 'head_request'],
      ['opened', false, null],
      ['opened', false, null],
    ]);
  });

  it('percent-encodes a stored location outside Latin-1', async () => {
    const id = await message({
      campaignId: await campaign(),
      customerId: await customer(),
      links: { [OFFER_LINK_BASE]: { url: 'https://shop.example/€', offer_id: null } },
    });
    const res = await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE)}`, { role: null });
    expect(res.headers.get('location')).toBe('https://shop.example/%E2%82%AC');
  });

  it('leaves other methods and paths to the app: problem+json 404', async () => {
    const id = await message({ campaignId: await campaign(), customerId: await customer() });
    for (const [method, path] of [
      ['POST', `/t/o/${token('open', id)}`],
      ['GET', `/t/o/${token('open', id)}/extra`],
      ['GET', '/t/x/anything'],
    ] as const) {
      const res = await h.request(method, path, { role: null });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type'), `${method} ${path}`).toBe('application/problem+json');
    }
    expect(await events(id)).toHaveLength(0);
  });

  it('counts its requests in /metrics without the app-wide request log', async () => {
    const id = await message({ campaignId: await campaign(), customerId: await customer() });
    await h.get(`/t/o/${token('open', id)}`, { role: null, headers: { 'user-agent': BROWSER } });
    await h.get(`/t/o/${token('click', id)}`, { role: null });
    const text = await (await h.get('/metrics', { role: null })).text();
    expect(text).toMatch(/offerflow_tracking_requests_total\{route="\/t\/o\/:token",status="200"\} [1-9]/);
    expect(text).toMatch(/offerflow_tracking_requests_total\{route="\/t\/o\/:token",status="404"\} [1-9]/);
  });
});

describe('unsubscribe', () => {
  const oneClick = (path: string, body = 'List-Unsubscribe=One-Click') =>
    h.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  const consents = (customerId: number) =>
    h.db.sql<any[]>`select * from consents where customer_id = ${customerId} order by id`;

  it('GET shows a confirmation page and changes nothing', async () => {
    const customerId = await customer();
    const id = await message({ campaignId: await campaign(), customerId });
    const res = await h.get(`/u/${token('unsubscribe', id, 1)}`, { role: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const page = await res.text();
    expect(page).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(await consents(customerId)).toHaveLength(0);
    expect(await events(id)).toHaveLength(0);
  });

  it('POST List-Unsubscribe=One-Click revokes marketing consent at once; replays are harmless', async () => {
    const customerId = await customer();
    const campaignId = await campaign();
    const id = await message({ campaignId, customerId });
    const path = `/u/${token('unsubscribe', id, 1)}`;
    const res = await oneClick(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await consents(customerId)).toMatchObject([
      { purpose: 'marketing_email', granted: false, source: 'one_click' },
    ]);
    expect(await events(id, 'unsubscribed')).toMatchObject([
      { customer_id: customerId, campaign_id: campaignId },
    ]);
    for (let i = 0; i < 3; i++) expect((await oneClick(path)).status).toBe(200);
    expect(await consents(customerId)).toHaveLength(1);
    expect(await events(id, 'unsubscribed')).toHaveLength(1);
  });

  it('rejects a POST without the one-click field and a bad token', async () => {
    const customerId = await customer();
    const id = await message({ campaignId: await campaign(), customerId });
    expect((await oneClick(`/u/${token('unsubscribe', id, 1)}`, 'foo=bar')).status).toBe(400);
    expect((await oneClick(`/u/${token('open', id)}`)).status).toBe(404);
    expect(await consents(customerId)).toHaveLength(0);
  });

  it('an erased customer or a deleted message: success page, nothing written, no crash', async () => {
    const customerId = await customer();
    const id = await message({ campaignId: await campaign(), customerId });
    await h.db.sql`update customers set erased_at = now(), email = null where id = ${customerId}`;
    expect((await oneClick(`/u/${token('unsubscribe', id, 1)}`)).status).toBe(200);
    expect(await consents(customerId)).toHaveLength(0);
    expect((await oneClick(`/u/${token('unsubscribe', 987_654_321, 1)}`)).status).toBe(200);
  });

  it('the preference page lets a customer choose topics instead of leaving', async () => {
    await offer('Tent', 'camping', 'https://shop.example/tent');
    await offer('Rake', 'garden', 'https://shop.example/rake');
    const customerId = await customer();
    await h.db
      .sql`insert into consents (customer_id, purpose, granted, source) values (${customerId}, 'marketing_email', true, 'signup')`;
    const id = await message({ campaignId: await campaign(), customerId });
    const path = `/u/${token('unsubscribe', id, 1)}/preferences`;
    const page = await (await h.get(path, { role: null })).text();
    expect(page).toContain('value="camping" checked');
    expect(page).toContain('value="garden" checked');
    const res = await oneClick(path, 'subscribed=on&topic=garden');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('value="camping" ');
    const rows = await consents(customerId);
    // Only what changed is written: marketing email and garden stay as they were.
    const written = new Map(rows.map((r) => [r.purpose, r.granted]));
    expect(rows.filter((r) => r.purpose === 'marketing_email')).toHaveLength(1);
    expect(written.get('topic:camping')).toBe(false);
    expect(written.has('topic:garden')).toBe(false);
  });
});

describe('bounces and complaints', () => {
  const suppressed = async (email: string) =>
    (
      await h.db
        .sql`select 1 from suppressions where email_hash = ${emailHash(h.deps.config.OFFERFLOW_SECRET, email)}`
    ).length === 1;

  it('a hard bounce records the event and suppresses the address; a soft one does not', async () => {
    const hard = await customer('hard@example.com');
    const hardId = await message({ campaignId: await campaign(), customerId: hard });
    const res = await h.post(
      '/v1/events/bounces',
      { message_id: hardId, type: 'hard', reason: '550 5.1.1' },
      { role: 'integrator' },
    );
    expect(res.status).toBe(201);
    expect(await json(res)).toEqual({ kind: 'bounced', events: 1, customer_ids: [hard], suppressed: true });
    expect(await events(hardId, 'bounced')).toMatchObject([{ data: { type: 'hard', reason: '550 5.1.1' } }]);
    expect(await suppressed('HARD@example.com')).toBe(true);

    const soft = await customer('soft@example.com');
    const softId = await message({ campaignId: await campaign(), customerId: soft });
    const res2 = await h.post('/v1/events/bounces', { email: 'soft@example.com', type: 'soft' });
    expect(await json(res2)).toMatchObject({ events: 1, suppressed: false });
    expect(await events(softId, 'bounced')).toHaveLength(1);
    expect(await suppressed('soft@example.com')).toBe(false);
  });

  it('a complaint suppresses the address', async () => {
    const customerId = await customer('angry@example.com');
    await message({ campaignId: await campaign(), customerId });
    const res = await h.post('/v1/events/complaints', { email: 'angry@example.com', feedback_type: 'abuse' });
    expect(res.status).toBe(201);
    expect(await suppressed('angry@example.com')).toBe(true);
  });

  it('rejects bad input by field, unknown messages, and roles that may not post', async () => {
    const both = await h.post('/v1/events/bounces', { message_id: 1, email: 'a@example.com', type: 'hard' });
    expect(both.status).toBe(422);
    expect((await json(both)).errors[0].path).toBe('message_id');
    const badType = await h.post('/v1/events/bounces', { email: 'a@example.com', type: 'medium' });
    expect((await json(badType)).errors[0].path).toBe('type');
    expect((await h.post('/v1/events/bounces', { message_id: 987_654_321, type: 'hard' })).status).toBe(404);
    expect(
      (await h.post('/v1/events/complaints', { email: 'a@example.com' }, { role: 'analyst' })).status,
    ).toBe(403);
  });
});

describe('conversions', () => {
  async function purchase(
    customerId: number,
    input: { category: string; amount: number; at: Date; sku?: string },
  ) {
    const [row] = await h.db.sql<any[]>`
      insert into purchases (external_line_id, customer_id, sku, category, amount, purchased_at)
      values (${`line-${++seq}`}, ${customerId}, ${input.sku ?? 'SKU-1'}, ${input.category}, ${input.amount}, ${input.at})
      returning id, customer_id, sku, category, amount, currency, purchased_at`;
    return row;
  }

  it('a purchase after a click is attributed to that message with its revenue and matching offer', async () => {
    const customerId = await customer();
    const shoes = await offer('Sneakers', 'shoes', 'https://shop.example/sneakers');
    const garden = await offer('Hose', 'garden', 'https://shop.example/hose');
    const campaignId = await campaign();
    const id = await message({
      campaignId,
      customerId,
      offerIds: [garden, shoes],
      sentAt: new Date(Date.now() - 2 * HOUR),
    });
    const click = await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE)}`, {
      role: null,
      headers: { 'user-agent': BROWSER },
    });
    expect(click.status).toBe(302);
    await flushTrackingEvents(h.deps);
    const line = await purchase(customerId, { category: 'shoes', amount: 89.9, at: new Date() });
    const conversions = await attributePurchases(h.db.sql, [line]);
    expect(conversions).toMatchObject([
      { message_id: id, campaign_id: campaignId, offer_id: shoes, revenue: 89.9 },
    ]);
    expect(await events(id, 'converted')).toMatchObject([
      { purchase_id: line.id, offer_id: shoes, data: { revenue: 89.9, touch: 'clicked' } },
    ]);
    // Attributing the same line again (a re-import) records nothing new.
    expect(await attributePurchases(h.db.sql, [line])).toEqual([]);
  });

  it('a purchase posted to /v1/purchases after a click is attributed', async () => {
    const customerId = await customer();
    const lamp = await offer('Desk lamp', 'lighting', 'https://shop.example/lamp');
    const id = await message({ campaignId: await campaign(), customerId, offerIds: [lamp] });
    await h.get(`/t/c/${token('click', id, OFFER_LINK_BASE)}`, {
      role: null,
      headers: { 'user-agent': BROWSER },
    });
    await flushTrackingEvents(h.deps);
    const line = {
      external_line_id: `http-${++seq}`,
      customer_id: customerId,
      category: 'lighting',
      amount: 42,
      purchased_at: new Date().toISOString(),
    };
    const res = await h.post('/v1/purchases', [line], { role: 'integrator' });
    expect(res.status).toBeLessThan(300);
    expect(await events(id, 'converted')).toMatchObject([{ offer_id: lamp, data: { revenue: 42 } }]);
  });

  it('respects the windows: an old click, an open over a day ago and machine clicks do not count', async () => {
    const customerId = await customer();
    const campaignId = await campaign({ click_days: 7, open_days: 1 });
    const id = await message({ campaignId, customerId, sentAt: new Date(Date.now() - 30 * 24 * HOUR) });
    const at = (msAgo: number) => new Date(Date.now() - msAgo);
    await h.db.sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id, machine, at) values
        (${customerId}, 'clicked', ${id}, ${campaignId}, false, ${at(8 * 24 * HOUR)}),
        (${customerId}, 'opened', ${id}, ${campaignId}, false, ${at(30 * HOUR)}),
        (${customerId}, 'clicked', ${id}, ${campaignId}, true, ${at(HOUR)})`;
    const line = await purchase(customerId, { category: 'x', amount: 10, at: new Date() });
    expect(await attributePurchases(h.db.sql, [line])).toEqual([]);
    await h.db.sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id, at)
      values (${customerId}, 'opened', ${id}, ${campaignId}, ${at(20 * HOUR)})`;
    expect(await attributePurchases(h.db.sql, [line])).toMatchObject([
      { message_id: id, offer_id: null, touch: 'opened' },
    ]);
  });

  it('POST /v1/conversions records a conversion with a message token, once per order_ref', async () => {
    const customerId = await customer();
    const offerId = await offer('Lamp', 'home', 'https://shop.example/lamp');
    const campaignId = await campaign();
    const id = await message({ campaignId, customerId, offerIds: [offerId] });
    const body = {
      token: token('click', id, OFFER_LINK_BASE),
      amount: 25.5,
      currency: 'EUR',
      order_ref: 'A-1',
    };
    const res = await h.post('/v1/conversions', body, { role: 'integrator' });
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({
      message_id: id,
      campaign_id: campaignId,
      offer_id: offerId,
      revenue: 25.5,
    });
    const again = await h.post('/v1/conversions', body);
    expect(again.status).toBe(200);
    expect(await events(id, 'converted')).toHaveLength(1);
    const bad = await h.post('/v1/conversions', { ...body, token: 'forged' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('token');
    expect((await h.post('/v1/conversions', { ...body, currency: 'eur' })).status).toBe(422);
  });
});
