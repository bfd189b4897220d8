import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

let h: Harness;
let o1: number;
let o2: number;
let thankYou: number;
let winBack: number;
let idle: number;
let retired: number;
let retiredEmpty: number;
let campaignId: number;

const SENT = '2024-03-01T10:15:00Z';
const DAY1 = '2024-03-01T12:00:00Z';
const DAY2 = '2024-03-02T12:00:00Z';
const DAY3 = '2024-03-03T12:00:00Z';
const APRIL_SENT = '2024-04-10T09:00:00Z';
const APRIL = '2024-04-10T12:00:00Z';
const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/**
 * Trigger "=thank-you" (offers O1, O2; t8 only O1):
 *   t1 bounced; t2 opened twice and clicked O1; t3 only an Apple prefetch; t4 clicked O2 without
 *   the pixel and converted 25 on O2; t5 opened and converted 40 (no offer); t6 only a scanner
 *   click on O1; t7 nothing but an unsubscribe; t8 sent in April and opened. Not counted: one
 *   failed and one queued message.
 * Trigger "Win-back" (O1): w1 opened and converted 10 on O1; w2, w3 nothing.
 * A deleted trigger with one sent message is still listed; a deleted one without is not. A
 * campaign message with events must not leak into any trigger's numbers.
 */
beforeAll(async () => {
  h = await createHarness();
  const sql = h.db.sql;
  [o1, o2] = (
    await sql<{ id: number }[]>`
      insert into offers (name, title, category) values ('@SUM(1+1)', 'One', 'shoes'), ('Plain', 'Two', 'garden')
      returning id`
  ).map((r) => r.id) as [number, number];
  const [tpl] = await sql<{ id: number }[]>`
    insert into templates (name, latest_version) values ('tpl-trigger-reports', 1) returning id`;
  const trigger = async (name: string, event: string, deleted = false) => {
    const [row] = await sql<{ id: number }[]>`
      insert into triggers (name, event, template_id, template_version, deleted_at)
      values (${name}, ${event}, ${tpl!.id}, 1, ${deleted ? new Date() : null}) returning id`;
    return row!.id;
  };
  thankYou = await trigger('=thank-you', 'birthday');
  winBack = await trigger('Win-back', 'inactive_for');
  idle = await trigger('Idle', 'date_attribute');
  retired = await trigger('Retired', 'birthday', true);
  retiredEmpty = await trigger('Retired, empty', 'birthday', true);
  const [campaign] = await sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('Spring', 'sent') returning id`;
  campaignId = campaign!.id;

  const msg: Record<string, number> = {};
  const send = async (
    key: string,
    owner: { trigger?: number; campaign?: number },
    offers: number[],
    status = 'sent',
    sentAt: string | null = SENT,
  ) => {
    const [customer] = await sql<{ id: number }[]>`
      insert into customers (external_id) values (${`tr-${key}`}) returning id`;
    const [row] = await sql<{ id: number }[]>`
      insert into messages (campaign_id, trigger_id, customer_id, offer_ids, status, sent_at)
      values (${owner.campaign ?? null}, ${owner.trigger ?? null}, ${customer!.id}, ${offers}::bigint[],
              ${status}, ${status === 'sent' ? sentAt : null})
      returning id`;
    msg[key] = row!.id;
  };
  for (const t of ['t1', 't2', 't3', 't4', 't5', 't6', 't7']) await send(t, { trigger: thankYou }, [o1, o2]);
  await send('t8', { trigger: thankYou }, [o1], 'sent', APRIL_SENT);
  await send('t-failed', { trigger: thankYou }, [o1, o2], 'failed');
  await send('t-queued', { trigger: thankYou }, [o1, o2], 'queued');
  for (const w of ['w1', 'w2', 'w3']) await send(w, { trigger: winBack }, [o1]);
  await send('r1', { trigger: retired }, []);
  await send('c1', { campaign: campaignId }, [o1]);

  // Events carry the trigger id as the tracking, conversion and sender code writes them.
  const ev = async (
    key: string,
    kind: string,
    at: string,
    extra: { machine?: boolean; offer?: number; revenue?: number } = {},
  ) =>
    sql`insert into contact_events (customer_id, kind, message_id, campaign_id, trigger_id, offer_id, machine, data, at)
        select customer_id, ${kind}, id, campaign_id, trigger_id, ${extra.offer ?? null}, ${extra.machine ?? false},
               ${sql.json(extra.revenue === undefined ? {} : { revenue: extra.revenue, currency: 'EUR' })}, ${at}
        from messages where id = ${msg[key]!}`;
  await ev('t1', 'bounced', DAY1);
  await ev('t2', 'opened', DAY1);
  await ev('t2', 'opened', DAY1);
  await ev('t2', 'clicked', DAY2, { offer: o1 });
  await ev('t3', 'opened', DAY1, { machine: true });
  await ev('t4', 'clicked', DAY2, { offer: o2 });
  await ev('t4', 'converted', DAY3, { offer: o2, revenue: 25 });
  await ev('t5', 'opened', DAY1);
  await ev('t5', 'converted', DAY3, { revenue: 40 });
  await ev('t6', 'clicked', DAY2, { offer: o1, machine: true });
  await ev('t7', 'unsubscribed', DAY2);
  await ev('t8', 'opened', APRIL);
  await ev('t-failed', 'bounced', DAY1);
  await ev('w1', 'opened', DAY1);
  await ev('w1', 'converted', DAY3, { offer: o1, revenue: 10 });
  await ev('c1', 'opened', DAY1);
  await ev('c1', 'clicked', DAY2, { offer: o1 });
  await ev('c1', 'converted', DAY3, { offer: o1, revenue: 99 });
});
afterAll(async () => h.close());

const metrics = (c: {
  sent: number;
  delivered: number;
  bounced: number;
  opens: number;
  clicks: number;
  conversions: number;
  revenue: number;
}) => ({
  ...c,
  open_rate: c.delivered ? c.opens / c.delivered : 0,
  click_rate: c.delivered ? c.clicks / c.delivered : 0,
  click_to_open_rate: c.opens ? c.clicks / c.opens : 0,
  conversion_rate: c.delivered ? c.conversions / c.delivered : 0,
  // Reported to 4 decimals, like the campaign report.
  revenue_per_recipient: c.sent ? Math.round((c.revenue / c.sent) * 10000) / 10000 : 0,
});

describe('trigger report', () => {
  it('matches a hand computation: totals and by offer, machine events left out', async () => {
    const res = await h.get(`/v1/reports/triggers/${thankYou}`, { role: 'analyst' });
    expect(res.status).toBe(200);
    const report = await json(res);
    expect(report.trigger).toEqual({
      id: thankYou,
      name: '=thank-you',
      event: 'birthday',
      enabled: true,
      deleted: false,
    });
    expect(report).toMatchObject({ include_machine: false, from: null, to: null });
    // 8 sent (t1..t8), t1 bounced; opens t2, t4 (its click), t5, t8; clicks t2, t4; t4 and t5 converted.
    expect(report.totals).toEqual(
      metrics({ sent: 8, delivered: 7, bounced: 1, opens: 4, clicks: 2, conversions: 2, revenue: 65 }),
    );
    expect(report.offers).toEqual([
      // Shown in all 8; its own human click: t2 (t6 was a scanner); no conversion on it.
      {
        offer_id: o1,
        name: '@SUM(1+1)',
        ...metrics({ sent: 8, delivered: 7, bounced: 1, opens: 4, clicks: 1, conversions: 0, revenue: 0 }),
      },
      // Shown in t1..t7; opened t2, t4, t5; clicked and converted on it: t4.
      {
        offer_id: o2,
        name: 'Plain',
        ...metrics({ sent: 7, delivered: 6, bounced: 1, opens: 3, clicks: 1, conversions: 1, revenue: 25 }),
      },
    ]);
  });

  it('counts machine events when asked, and limits to a sent-time window', async () => {
    const machine = await json(await h.get(`/v1/reports/triggers/${thankYou}?include_machine=true`));
    // t3's prefetch becomes an open; t6's scanner click an open and a click.
    expect(machine.totals).toMatchObject({ opens: 6, clicks: 3 });
    const march = await json(
      await h.get(
        `/v1/reports/triggers/${thankYou}?from=2024-03-01T00:00:00Z&to=2024-04-01T00:00:00%2B00:00`,
      ),
    );
    expect(march).toMatchObject({ from: '2024-03-01T00:00:00.000Z', to: '2024-04-01T00:00:00.000Z' });
    expect(march.totals).toEqual(
      metrics({ sent: 7, delivered: 6, bounced: 1, opens: 3, clicks: 2, conversions: 2, revenue: 65 }),
    );
  });

  it('exports CSV with formula injection neutralized', async () => {
    const res = await h.get(`/v1/reports/triggers/${thankYou}?format=csv`);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="trigger-${thankYou}.csv"`);
    const lines = (await res.text()).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'section,key,name,sent,delivered,bounced,opens,clicks,conversions,revenue,open_rate,click_rate,click_to_open_rate,conversion_rate,revenue_per_recipient,customers,lift_absolute,lift_relative,lift_ci95_low,lift_ci95_high,revenue_lift_absolute,revenue_lift_ci95_low,revenue_lift_ci95_high,verdict',
    );
    expect(lines[1]).toMatch(/^total,,'=thank-you,8,7,1,4,2,2,65,/);
    expect(lines[2]).toMatch(new RegExp(`^offer,${o1},'@SUM\\(1\\+1\\),8,7,1,4,1,0,0,`));
    const viaAccept = await h.get(`/v1/reports/triggers/${thankYou}`, { headers: { accept: 'text/csv' } });
    expect(await viaAccept.text()).toBe(`${lines.join('\n')}\n`);
  });

  it('answers 404, 403 and 422 where it should, writing nothing', async () => {
    expect((await h.get('/v1/reports/triggers/987654')).status).toBe(404);
    expect((await h.get('/v1/reports/triggers/987654/timeseries')).status).toBe(404);
    expect((await h.get(`/v1/reports/triggers/${thankYou}`, { role: 'integrator' })).status).toBe(403);
    expect((await h.get('/v1/reports/triggers', { role: 'sales' })).status).toBe(403);
    const bad = await h.get(`/v1/reports/triggers/${thankYou}?from=yesterday`);
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors).toContainEqual(expect.objectContaining({ path: 'from', in: 'query' }));
    const reversed = await h.get(
      `/v1/reports/triggers?from=2024-04-01T00:00:00Z&to=2024-03-01T00:00:00Z&format=csv`,
    );
    expect(reversed.status).toBe(422);
    expect((await json(reversed)).errors).toEqual([
      { path: 'to', in: 'query', message: 'must not be before from' },
    ]);
  });
});

describe('all triggers', () => {
  it('lists each trigger’s totals: live ones, and deleted ones only when they sent', async () => {
    const body = await json(await h.get('/v1/reports/triggers', { role: 'marketer' }));
    expect(body.next_cursor).toBeNull();
    const ids = body.data.map((r: { id: number }) => r.id);
    expect(ids).toEqual([thankYou, winBack, idle, retired]);
    expect(ids).not.toContain(retiredEmpty);
    const [t, w, i, r] = body.data;
    expect(t).toEqual({
      id: thankYou,
      name: '=thank-you',
      event: 'birthday',
      enabled: true,
      deleted: false,
      ...metrics({ sent: 8, delivered: 7, bounced: 1, opens: 4, clicks: 2, conversions: 2, revenue: 65 }),
    });
    expect(w).toMatchObject(
      metrics({ sent: 3, delivered: 3, bounced: 0, opens: 1, clicks: 0, conversions: 1, revenue: 10 }),
    );
    expect(i).toMatchObject(
      metrics({ sent: 0, delivered: 0, bounced: 0, opens: 0, clicks: 0, conversions: 0, revenue: 0 }),
    );
    expect(r).toMatchObject({ deleted: true, sent: 1, delivered: 1, opens: 0 });
    const april = await json(await h.get('/v1/reports/triggers?from=2024-04-01T00:00:00Z'));
    expect(april.data.map((x: { id: number; sent: number }) => [x.id, x.sent])).toEqual([
      [thankYou, 1],
      [winBack, 0],
      [idle, 0],
    ]);
    const csv = await (await h.get('/v1/reports/triggers?format=csv')).text();
    expect(csv.split('\n')[0]).toBe(
      'id,name,event,enabled,deleted,sent,delivered,bounced,opens,clicks,conversions,revenue,open_rate,click_rate,click_to_open_rate,conversion_rate,revenue_per_recipient',
    );
    expect(csv).toContain(`\n${thankYou},'=thank-you,birthday,true,false,8,7,1,4,2,2,65,`);
  });
});

describe('trigger timeseries', () => {
  it('buckets a trigger’s activity by day (UTC), within a window when given', async () => {
    const body = await json(await h.get(`/v1/reports/triggers/${thankYou}/timeseries?interval=day`));
    expect(body).toMatchObject({ trigger_id: thankYou, interval: 'day' });
    const day = (bucket: string, counts: Partial<Record<string, number>>) => ({
      bucket,
      sent: 0,
      opens: 0,
      clicks: 0,
      bounces: 0,
      conversions: 0,
      revenue: 0,
      unsubscribes: 0,
      ...counts,
    });
    // Activity, like the campaign series: the failed message's bounce counts on its day too.
    expect(body.data).toEqual([
      day('2024-03-01T00:00:00.000Z', { sent: 7, opens: 2, bounces: 2 }),
      day('2024-03-02T00:00:00.000Z', { opens: 2, clicks: 2, unsubscribes: 1 }),
      day('2024-03-03T00:00:00.000Z', { conversions: 2, revenue: 65 }),
      day('2024-04-10T00:00:00.000Z', { sent: 1, opens: 1 }),
    ]);
    const hourly = await json(
      await h.get(`/v1/reports/triggers/${thankYou}/timeseries?interval=hour&to=2024-03-02T00:00:00Z`),
    );
    expect(hourly.data).toEqual([
      day('2024-03-01T10:00:00.000Z', { sent: 7 }),
      day('2024-03-01T12:00:00.000Z', { opens: 2, bounces: 2 }),
    ]);
    const csv = await (await h.get(`/v1/reports/triggers/${thankYou}/timeseries?format=csv`)).text();
    expect(csv.split('\n')[1]).toBe('2024-03-01T00:00:00.000Z,7,2,0,2,0,0,0');
  });
});

describe('conversions of trigger messages', () => {
  it('a click on a trigger mail then a purchase: the conversion carries the trigger and is reported', async () => {
    const sql = h.db.sql;
    const [lamp] = await sql<{ id: number }[]>`
      insert into offers (name, title, category, url) values ('Lamp', 'Lamp', 'lighting', 'https://shop.example/lamp')
      returning id`;
    const [tpl] = await sql<{ id: number }[]>`
      insert into templates (name, latest_version) values ('tpl-trigger-conv', 1) returning id`;
    const [trig] = await sql<{ id: number }[]>`
      insert into triggers (name, event, template_id, template_version)
      values ('Replenish', 'inactive_for', ${tpl!.id}, 1) returning id`;
    const [customer] = await sql<{ id: number }[]>`
      insert into customers (external_id, email) values ('tr-conv', 'conv@example.com') returning id`;
    const [message] = await sql<{ id: number }[]>`
      insert into messages (trigger_id, customer_id, offer_ids, links, status, sent_at)
      values (${trig!.id}, ${customer!.id}, ${[lamp!.id]}::bigint[],
              ${sql.json({ [OFFER_LINK_BASE]: { url: 'https://shop.example/lamp', offer_id: lamp!.id } })},
              'sent', now() - interval '1 hour')
      returning id`;
    const token = signToken(h.deps.config.OFFERFLOW_SECRET, 'click', {
      messageId: message!.id,
      linkIndex: OFFER_LINK_BASE,
    });
    const click = await h.get(`/t/c/${token}`, { role: null, headers: { 'user-agent': BROWSER } });
    expect(click.status).toBe(302);
    await flushTrackingEvents(h.deps);
    const line = {
      external_line_id: 'tr-conv-1',
      customer_id: customer!.id,
      category: 'lighting',
      amount: 42,
      purchased_at: new Date().toISOString(),
    };
    expect((await h.post('/v1/purchases', [line], { role: 'integrator' })).status).toBe(201);
    const events = await sql<
      { kind: string; trigger_id: number; campaign_id: number | null; offer_id: number }[]
    >`
      select kind, trigger_id, campaign_id, offer_id from contact_events
      where message_id = ${message!.id} order by id`;
    expect(events).toEqual([
      { kind: 'clicked', trigger_id: trig!.id, campaign_id: null, offer_id: lamp!.id },
      { kind: 'converted', trigger_id: trig!.id, campaign_id: null, offer_id: lamp!.id },
    ]);
    const report = await json(await h.get(`/v1/reports/triggers/${trig!.id}`));
    expect(report.totals).toEqual(
      metrics({ sent: 1, delivered: 1, bounced: 0, opens: 1, clicks: 1, conversions: 1, revenue: 42 }),
    );
    expect(report.offers).toEqual([
      {
        offer_id: lamp!.id,
        name: 'Lamp',
        ...metrics({ sent: 1, delivered: 1, bounced: 0, opens: 1, clicks: 1, conversions: 1, revenue: 42 }),
      },
    ]);
  });
});

describe('trigger report pages', () => {
  const signIn = async (role: 'analyst' | 'sales') => (await signInToUi(h, role)).session;

  it('lists the triggers and shows one’s report to a role with reports, not to others', async () => {
    const analyst = await signIn('analyst');
    const list = await h.app.request('/ui/triggers', { headers: { cookie: analyst } });
    expect(list.status).toBe(200);
    const listHtml = await list.text();
    expect(listHtml).toContain(`<a href="/ui/triggers/${thankYou}">=thank-you</a>`);
    expect(listHtml).toContain('Retired (deleted)');
    expect(listHtml).toContain('href="/ui/triggers" aria-current="page"');
    const one = await h.app.request(`/ui/triggers/${thankYou}`, { headers: { cookie: analyst } });
    expect(one.status).toBe(200);
    const html = await one.text();
    expect(html).toContain('<h1>=thank-you</h1>');
    expect(html).toMatch(/<span class="n">8<\/span><span class="muted">Sent<\/span>/);
    expect(html).toMatch(/<span class="n">65\.00<\/span><span class="muted">Revenue \(EUR\)<\/span>/);
    expect(html).toContain('id="timeseries"');
    const sales = await signIn('sales');
    expect((await h.app.request('/ui/triggers', { headers: { cookie: sales } })).status).toBe(403);
    expect((await h.app.request('/ui/triggers/987654', { headers: { cookie: analyst } })).status).toBe(404);
  });
});
