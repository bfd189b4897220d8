import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, type WorkerRole } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// The contact policy through HTTP, the real workers (two sender processes' worth, side by
// side) and an SMTP sink: caps hold across a campaign and a trigger and between campaigns sent
// in parallel, priority decides who wins the last slot, transactional mail is exempt, a
// complaint logged on the card suspends promotional mail, and quiet hours hold a mail to the
// morning of the customer's time zone (the clock injected) and then send it.

let h: Harness;
let sink: SmtpSink;
let background: RunningWorkers | undefined;
let senders: RunningWorkers[] = [];
let templateId: number;
/** The clock of the app and of every worker: real time unless a test sets it. */
let fixed: Date | null = null;
const clock = () => fixed ?? new Date();

const workerConfig = () => ({ ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url });
const env = () => ({
  QUEUE_PREFIX: h.queuePrefix,
  RECONCILE_INTERVAL_MS: '300',
  RECONCILE_IDLE_SECONDS: '1',
  SEND_CONCURRENCY: '10',
  WORKER_LOCK_MS: '5000',
});
const start = (roles: WorkerRole[]) =>
  startWorkers({ config: workerConfig(), roles, env: env(), logger: h.deps.logger, clock });

async function startSenders(): Promise<void> {
  senders = [await start(['sender']), await start(['sender'])];
}
async function stopSenders(): Promise<void> {
  await Promise.all(senders.map((s) => s.close()));
  senders = [];
}

beforeAll(async () => {
  h = await createHarness({ clock });
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`
    select id from templates where name ilike '%offer%' order by id limit 1`;
  templateId = t!.id;
  sink = await startSmtpSink({ keepInMemory: true });
  background = await start(['planner', 'reconciler', 'trigger', 'journey']);
  await startSenders();
});
afterAll(async () => {
  await stopSenders();
  await background?.close();
  await sink?.close();
  await h?.close();
});

const parsed = new Map<Buffer, ParsedMail>();
async function mailsTo(address: string): Promise<ParsedMail[]> {
  for (const raw of sink.messages) if (!parsed.has(raw)) parsed.set(raw, await simpleParser(raw));
  return [...parsed.values()].filter((m) => (m.to as { text: string } | undefined)?.text === address);
}

interface Person {
  id: number;
  email: string;
  external_id: string;
}

/** Customers opted in to marketing email, each with its own address. */
async function customers(prefix: string, n: number, timezone: string | null = null): Promise<Person[]> {
  const out: Person[] = [];
  for (let i = 0; i < n; i++) {
    const externalId = `${prefix}-${i}`;
    const email = `${prefix}-${i}@example.test`;
    const res = await h.post('/v1/customers', {
      external_id: externalId,
      email,
      first_name: `P${i}`,
      timezone,
      consents: { marketing_email: true },
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    out.push({ id: (await json(res)).id, email, external_id: externalId });
  }
  return out;
}

async function segmentOf(people: Person[]): Promise<number> {
  const [s] = await h.db.sql<{ id: number }[]>`
    insert into segments (name, rule)
    values (${`policy ${people[0]!.external_id}`},
      ${h.db.sql.json({ in: [{ var: 'external_id' }, people.map((p) => p.external_id)] } as never)})
    returning id`;
  return s!.id;
}

async function campaign(people: Person[], body: Record<string, unknown> = {}): Promise<number> {
  const res = await h.post('/v1/campaigns', {
    name: `Policy ${people[0]!.external_id} ${JSON.stringify(body)}`,
    segment_id: await segmentOf(people),
    template_id: templateId,
    offers_per_email: 0,
    from: { address: 'offers@shop.example', name: 'Shop' },
    ...body,
  });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  return (await json(res)).id;
}

const launch = async (id: number) => expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
const finished = (id: number) =>
  until(async () => (await json(await h.get(`/v1/campaigns/${id}`))).status === 'sent', 60_000);

async function policy(patch: Record<string, unknown>): Promise<void> {
  const res = await h.patch('/v1/settings', { contact_policy: patch });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(200);
}

const rowsOf = (where: { campaign?: number; trigger?: number }) =>
  h.db.sql<
    {
      id: number;
      customer_id: number;
      status: string;
      suppressed_reason: string | null;
      policy_reason: string | null;
      send_at: Date | null;
    }[]
  >`select id, customer_id, status, suppressed_reason, policy_reason, send_at from messages
    where ${where.campaign ? h.db.sql`campaign_id = ${where.campaign}` : h.db.sql`trigger_id = ${where.trigger!}`}
    order by customer_id`;

describe('contact policy settings', () => {
  it('are read and changed through /v1/settings; bad values get a 422 naming the field and change nothing', async () => {
    const before = await json(await h.get('/v1/settings'));
    expect(before.contact_policy).toEqual({
      daily_cap: null,
      weekly_cap: null,
      quiet_hours: null,
      complaint_suspension_days: 30,
      default_timezone: 'UTC',
    });
    const bad: [Record<string, unknown>, string][] = [
      [{ daily_cap: -1 }, 'contact_policy.daily_cap'],
      [{ weekly_cap: 2.5 }, 'contact_policy.weekly_cap'],
      [{ quiet_hours: { start: '25:00', end: '08:00' } }, 'contact_policy.quiet_hours.start'],
      [{ quiet_hours: { start: '08:00', end: '08:00' } }, 'contact_policy.quiet_hours.end'],
      [{ quiet_hours: { start: '21:00' } }, 'contact_policy.quiet_hours.end'],
      [{ complaint_suspension_days: 99999 }, 'contact_policy.complaint_suspension_days'],
      [{ default_timezone: 'Mars/Olympus' }, 'contact_policy.default_timezone'],
      [{ daily_cap: 1, surprise: true }, 'contact_policy.surprise'],
    ];
    for (const [patch, path] of bad) {
      const res = await h.patch('/v1/settings', { contact_policy: patch });
      expect(res.status, JSON.stringify(patch)).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = await json(res);
      expect(
        body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    expect((await json(await h.get('/v1/settings'))).contact_policy).toEqual(before.contact_policy);

    await policy({
      daily_cap: 3,
      quiet_hours: { start: '21:30', end: '07:45' },
      default_timezone: 'Europe/Paris',
    });
    const after = (await json(await h.get('/v1/settings'))).contact_policy;
    expect(after).toMatchObject({ daily_cap: 3, quiet_hours: { start: '21:30', end: '07:45' } });
    // Absent fields are kept, null turns one off.
    await policy({ daily_cap: null, quiet_hours: null, default_timezone: 'UTC' });
    expect((await json(await h.get('/v1/settings'))).contact_policy).toEqual(before.contact_policy);
  });

  it('campaigns and triggers take a category and a priority, checked', async () => {
    const people = await customers('cat', 1);
    const bad = await h.post('/v1/campaigns', {
      name: 'bad category',
      segment_id: await segmentOf(people),
      template_id: templateId,
      category: 'spam',
      priority: 5000,
    });
    expect(bad.status).toBe(422);
    const paths = (await json(bad)).errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['category', 'priority']));
    const c = await json(await h.get(`/v1/campaigns/${await campaign(people, { priority: 7 })}`));
    expect(c).toMatchObject({ category: 'promotional', priority: 7 });
    const t = await h.post('/v1/triggers', {
      name: 'receipt',
      event: 'purchase',
      template_id: templateId,
      transactional: true,
      enabled: false,
    });
    expect(t.status).toBe(201);
    expect(await json(t)).toMatchObject({ category: 'transactional', transactional: true, priority: 0 });
    const clash = await h.post('/v1/triggers', {
      name: 'clash',
      event: 'purchase',
      template_id: templateId,
      transactional: true,
      category: 'promotional',
    });
    expect(clash.status).toBe(422);
    expect((await json(clash)).errors[0].path).toBe('transactional');
  });
});

describe('caps', () => {
  it('hold across a campaign and a trigger: only the cap reaches the sink, the rest say why; transactional mail is exempt', async () => {
    await policy({ daily_cap: 1 });
    const people = await customers('cap', 4);
    const id = await campaign(people);
    await launch(id);
    await finished(id);
    for (const p of people) expect(await mailsTo(p.email)).toHaveLength(1);

    const promo = await json(
      await h.post('/v1/triggers', { name: 'Thanks promo', event: 'purchase', template_id: templateId }),
    );
    const receipt = await json(
      await h.post('/v1/triggers', {
        name: 'Receipt',
        event: 'purchase',
        template_id: templateId,
        category: 'transactional',
      }),
    );
    for (const [i, p] of people.entries()) {
      const res = await h.post('/v1/purchases', {
        external_line_id: `cap-line-${i}`,
        customer_id: p.id,
        order_ref: `CAP-${i}`,
        amount: 20,
        purchased_at: new Date().toISOString(),
      });
      expect(res.status).toBe(201);
    }
    const settled = (rows: { status: string }[]) =>
      rows.length === people.length && rows.every((r) => !['queued', 'sending'].includes(r.status));
    const promoRows = await until(async () => {
      const rows = await rowsOf({ trigger: promo.id });
      return settled(rows) && rows;
    });
    const receiptRows = await until(async () => {
      const rows = await rowsOf({ trigger: receipt.id });
      return settled(rows) && rows;
    });
    for (const r of promoRows) {
      expect(r).toMatchObject({
        status: 'suppressed',
        suppressed_reason: 'daily_cap',
        policy_reason: 'daily_cap',
      });
    }
    for (const r of receiptRows) expect(r).toMatchObject({ status: 'sent', policy_reason: null });
    // One campaign mail and one receipt each, never the promotional thank-you.
    for (const p of people) expect(await mailsTo(p.email)).toHaveLength(2);

    // The customer's messages API says why.
    const listed = await json(await h.get(`/v1/customers/${people[0]!.id}/messages`));
    const capped = listed.data.find((m: { trigger_id: number | null }) => m.trigger_id === promo.id);
    expect(capped).toMatchObject({
      status: 'suppressed',
      suppressed_reason: 'daily_cap',
      policy_reason: 'daily_cap',
    });
    // And so does the customer card.
    const ui = await signInToUi(h, 'admin');
    const card = await h.app.request(`/ui/customers/${people[0]!.id}`, { headers: { cookie: ui.session } });
    expect(card.status).toBe(200);
    const html = await card.text();
    expect(html).toContain('Held back by the contact policy');
    expect(html).toContain('daily cap reached');

    for (const t of [promo, receipt])
      expect((await h.patch(`/v1/triggers/${t.id}`, { enabled: false })).status).toBe(200);
  });

  it('hold across a campaign and a journey: the journey’s mail after the campaign’s is held back and says why', async () => {
    await policy({ daily_cap: 1, weekly_cap: null });
    const people = await customers('jcap', 3);
    const id = await campaign(people);
    await launch(id);
    await finished(id);
    for (const p of people) expect(await mailsTo(p.email)).toHaveLength(1);

    const created = await json(
      await h.post('/v1/journeys', {
        name: 'Capped thank-you',
        entry: { event: 'jcap_visit' },
        start: 'thanks',
        steps: [
          { id: 'thanks', type: 'send_email', template_id: templateId, next: 'end' },
          { id: 'end', type: 'exit' },
        ],
      }),
    );
    expect((await h.post(`/v1/journeys/${created.id}/activate`)).status).toBe(200);
    for (const p of people) {
      const res = await h.post(
        '/v1/events',
        { type: 'track', userId: p.external_id, event: 'jcap_visit', messageId: `jcap-${p.id}` },
        { role: 'integrator' },
      );
      expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    }
    const rows = await until(async () => {
      const found = await h.db.sql<
        { status: string; suppressed_reason: string | null; policy_reason: string | null }[]
      >`
        select status, suppressed_reason, policy_reason from messages where journey_id = ${created.id}`;
      return (
        found.length === people.length &&
        found.every((r) => !['queued', 'sending'].includes(r.status)) &&
        found
      );
    });
    for (const r of rows)
      expect(r).toMatchObject({
        status: 'suppressed',
        suppressed_reason: 'daily_cap',
        policy_reason: 'daily_cap',
      });
    // Only the campaign's mail reached each customer.
    for (const p of people) expect(await mailsTo(p.email)).toHaveLength(1);
    expect((await h.post(`/v1/journeys/${created.id}/pause`)).status).toBe(200);
  });

  it('hold with two sender processes claiming one customer’s mail in parallel: exactly the cap gets through', async () => {
    await policy({ daily_cap: 2, weekly_cap: null });
    const people = await customers('race', 3);
    // Planned while no sender runs, so that all six campaigns' rows are due together.
    await stopSenders();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await campaign(people, { name: `race ${i}` }));
    for (const id of ids) await launch(id);
    await until(async () => {
      const [{ n }] = (await h.db.sql<{ n: number }[]>`
        select count(*)::int as n from messages where campaign_id = any(${ids}::bigint[])`) as unknown as [
        { n: number },
      ];
      return n === ids.length * people.length;
    });
    await startSenders();
    for (const id of ids) await finished(id);
    for (const p of people) expect(await mailsTo(p.email)).toHaveLength(2);
    const [{ counted }] = (await h.db.sql<{ counted: number }[]>`
      select coalesce(sum(sent), 0)::int as counted from contact_policy_counts
      where customer_id = any(${people.map((p) => p.id)}::bigint[])`) as unknown as [{ counted: number }];
    expect(counted).toBe(2 * people.length);
    const rows = (await Promise.all(ids.map((id) => rowsOf({ campaign: id })))).flat();
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(2 * people.length);
    const dropped = rows.filter((r) => r.status !== 'sent');
    expect(dropped).toHaveLength(4 * people.length);
    for (const r of dropped) expect(r).toMatchObject({ status: 'suppressed', policy_reason: 'daily_cap' });
  });

  it('priority decides the winner when the cap is reached, whichever is claimed first', async () => {
    await policy({ daily_cap: 1 });
    const people = await customers('prio', 3);
    await stopSenders();
    // The low-priority campaign is launched first: its jobs are ahead in the queue.
    const low = await campaign(people, { name: 'low', priority: 1 });
    const high = await campaign(people, { name: 'high', priority: 10 });
    await launch(low);
    await launch(high);
    await until(async () => {
      const [{ n }] = (await h.db.sql<{ n: number }[]>`
        select count(*)::int as n from messages where campaign_id in (${low}, ${high})`) as unknown as [
        { n: number },
      ];
      return n === 2 * people.length;
    });
    await startSenders();
    await finished(low);
    await finished(high);
    for (const r of await rowsOf({ campaign: high })) expect(r.status).toBe('sent');
    for (const r of await rowsOf({ campaign: low })) {
      expect(r.status).toBe('suppressed');
      expect(['outranked', 'daily_cap']).toContain(r.policy_reason);
    }
    for (const p of people) {
      const got = await mailsTo(p.email);
      expect(got).toHaveLength(1);
      expect(got[0]!.headers.get('x-offerflow-campaign')).toBe(String(high));
    }
    await policy({ daily_cap: null });
  });
});

describe('complaint suspension', () => {
  it('a complaint logged by staff on the card suspends promotional mail for the configured days; transactional mail still goes', async () => {
    await policy({ complaint_suspension_days: 14 });
    const [angry, calm] = await customers('complaint', 2);
    const logged = await h.post(
      `/v1/customers/${angry!.id}/interactions`,
      { kind: 'complaint', channel: 'phone', text: 'Too many emails', author: 'marie' },
      { role: 'sales' },
    );
    expect(logged.status).toBe(201);
    const id = await campaign([angry!, calm!]);
    await launch(id);
    await finished(id);
    const rows = await rowsOf({ campaign: id });
    expect(rows.find((r) => r.customer_id === angry!.id)).toMatchObject({
      status: 'suppressed',
      suppressed_reason: 'complaint_suspension',
    });
    expect(rows.find((r) => r.customer_id === calm!.id)?.status).toBe('sent');
    expect(await mailsTo(angry!.email)).toHaveLength(0);
    expect(await mailsTo(calm!.email)).toHaveLength(1);

    const receipt = await json(
      await h.post('/v1/triggers', {
        name: 'Receipt after complaint',
        event: 'purchase',
        template_id: templateId,
        category: 'transactional',
      }),
    );
    await h.post('/v1/purchases', {
      external_line_id: 'complaint-line',
      customer_id: angry!.id,
      amount: 10,
      purchased_at: new Date().toISOString(),
    });
    await until(async () => (await rowsOf({ trigger: receipt.id }))[0]?.status === 'sent');
    expect(await mailsTo(angry!.email)).toHaveLength(1);
    await h.patch(`/v1/triggers/${receipt.id}`, { enabled: false });

    // Past the suspension (the clock moved on 15 days), promotional mail reaches them again.
    fixed = new Date(Date.now() + 15 * 86_400_000);
    try {
      const later = await campaign([angry!], { name: 'after suspension' });
      await launch(later);
      await finished(later);
      expect((await rowsOf({ campaign: later }))[0]?.status).toBe('sent');
    } finally {
      fixed = null;
    }
  });
});

describe('quiet hours', () => {
  it('hold a campaign mail and an automation due at 23:30 in Paris until 08:00 Paris time, then send them, Redis wiped meanwhile', async () => {
    await policy({ quiet_hours: { start: '21:00', end: '08:00' } });
    const [night] = await customers('quiet', 1, 'Europe/Paris');
    const [day] = await customers('quiet-ny', 1, 'America/New_York');
    // 23:30 in Paris is 17:30 in New York: one is held, the other goes at once.
    const reminder = await json(
      await h.post('/v1/triggers', { name: 'Night reminder', event: 'purchase', template_id: templateId }),
    );
    fixed = new Date('2031-01-14T22:30:00Z');
    try {
      const id = await campaign([night!, day!]);
      await launch(id);
      // An automation fired at the same hour is held the same way.
      const bought = await h.post('/v1/purchases', {
        external_line_id: 'quiet-line',
        customer_id: night!.id,
        amount: 12,
        purchased_at: fixed.toISOString(),
      });
      expect(bought.status).toBe(201);
      const held = await until(async () => {
        const rows = await rowsOf({ campaign: id });
        const n = rows.find((r) => r.customer_id === night!.id);
        const d = rows.find((r) => r.customer_id === day!.id);
        return n?.policy_reason === 'quiet_hours' && d?.status === 'sent' && n;
      });
      const heldReminder = await until(async () => {
        const [r] = await rowsOf({ trigger: reminder.id });
        return r?.policy_reason === 'quiet_hours' && r;
      });
      expect(heldReminder).toMatchObject({ status: 'queued' });
      expect(heldReminder.send_at?.toISOString()).toBe('2031-01-15T07:00:00.000Z');
      expect(held.status).toBe('queued');
      expect(held.send_at?.toISOString()).toBe('2031-01-15T07:00:00.000Z');
      expect(await mailsTo(night!.email)).toHaveLength(0);
      expect(await mailsTo(day!.email)).toHaveLength(1);
      const listed = await json(await h.get(`/v1/customers/${night!.id}/messages?status=queued`));
      expect(listed.data[0]).toMatchObject({
        status: 'queued',
        policy_reason: 'quiet_hours',
        send_at: '2031-01-15T07:00:00.000Z',
      });
      // Not before the morning: the campaign waits for it.
      expect((await json(await h.get(`/v1/campaigns/${id}`))).status).toBe('sending');

      // Redis loses every key during the night (as a flush would, only this file's prefix): the
      // held rows are in PostgreSQL, and the reconciler brings their jobs back in the morning.
      const redis = h.deps.redis!;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.queuePrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      fixed = new Date('2031-01-15T07:00:05Z');
      await finished(id);
      const [sent] = await h.db.sql<{ status: string; sent_at: Date }[]>`
        select status, sent_at from messages where campaign_id = ${id} and customer_id = ${night!.id}`;
      expect(sent!.status).toBe('sent');
      expect(sent!.sent_at.toISOString()).toBe('2031-01-15T07:00:05.000Z');
      await until(async () => (await rowsOf({ trigger: reminder.id }))[0]?.status === 'sent');
      // The campaign mail and the reminder, both after the night.
      expect(await mailsTo(night!.email)).toHaveLength(2);
    } finally {
      fixed = null;
      await h.patch(`/v1/triggers/${reminder.id}`, { enabled: false });
      await policy({ quiet_hours: null });
    }
  });
});
