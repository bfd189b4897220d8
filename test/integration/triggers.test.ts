import { type Job, Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importLocalStream } from '../../src/imports/run.js';
import { createRedis, type RedisConnection } from '../../src/queue/connection.js';
import { QUEUES } from '../../src/queue/queues.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import type { TriggerEvent } from '../../src/triggers/events.js';
import { type FireDeps, fireTriggerEvents } from '../../src/triggers/fire.js';
import { reconcileTriggerMessages } from '../../src/triggers/reconcile.js';
import { scanScheduledTriggers } from '../../src/triggers/scan.js';
import { triggerProcessor } from '../../workers/trigger.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

let h: Harness;
let redis: RedisConnection;
let sendQueue: Queue;
let templateId: number;
const deps = (clock: () => Date = () => new Date()): FireDeps => ({
  sql: h.db.sql,
  jobs: h.dispatcher,
  clock,
  config: h.deps.config,
});

beforeAll(async () => {
  h = await createHarness();
  redis = createRedis(h.deps.config.REDIS_URL);
  sendQueue = new Queue(QUEUES.send, { connection: redis, prefix: h.queuePrefix });
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
});
afterAll(async () => {
  await sendQueue?.close();
  redis?.disconnect();
  await h?.close();
});

let seq = 0;
/** A customer who may be mailed (marketing consent granted) unless told otherwise. */
async function customer(over: Record<string, unknown> = {}, consent: boolean | null = true): Promise<number> {
  seq += 1;
  const [c] = await h.db.sql<{ id: number }[]>`
    insert into customers ${h.db.sql({ external_id: `t${seq}`, email: `t${seq}@example.test`, timezone: 'Europe/Paris', ...over })}
    returning id`;
  if (consent !== null) {
    await h.db
      .sql`insert into consents (customer_id, purpose, granted, source) values (${c!.id}, 'marketing_email', ${consent}, 'test')`;
  }
  return c!.id;
}

async function trigger(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/triggers', { name: 'T', template_id: templateId, ...body });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  return (await json(res)).id;
}

const messagesOf = (triggerId: number) =>
  h.db.sql<
    { id: number; customer_id: number; status: string; suppressed_reason: string | null; send_at: Date }[]
  >`
    select id, customer_id, status, suppressed_reason, send_at from messages where trigger_id = ${triggerId} order by id`;

async function setCap(max_messages: number, days: number) {
  const res = await h.request('PUT', '/v1/triggers/settings', { body: { max_messages, days } });
  expect(res.status).toBe(200);
}

describe('trigger API', () => {
  it('creates with the template version pinned, reads, edits, lists, deletes', async () => {
    const res = await h.post('/v1/triggers', {
      name: 'Thanks',
      event: 'purchase',
      template_id: templateId,
      delay: { hours: 2, at_local_hour: 10 },
      offers_per_email: 2,
    });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created).toMatchObject({
      event: 'purchase',
      template_version: 1,
      delay: { hours: 2, at_local_hour: 10 },
      enabled: true,
    });
    const patched = await json(
      await h.patch(`/v1/triggers/${created.id}`, { enabled: false, name: 'Thanks!' }),
    );
    expect(patched).toMatchObject({ enabled: false, name: 'Thanks!', offers_per_email: 2 });
    const got = await json(await h.get(`/v1/triggers/${created.id}`));
    expect(got).toMatchObject({ id: created.id, messages: {} });
    expect((await json(await h.get('/v1/triggers?limit=1'))).data).toHaveLength(1);
    // Filters: by event, and on or off (this one was switched off above).
    const birthday = await json(
      await h.post('/v1/triggers', { name: 'Birthday', event: 'birthday', template_id: templateId }),
    );
    const ids = async (query: string) =>
      (await json(await h.get(`/v1/triggers?${query}`))).data.map((t: { id: number }) => t.id);
    expect(await ids('event=birthday')).toEqual([birthday.id]);
    expect(await ids('event=purchase&enabled=false')).toContain(created.id);
    expect(await ids('enabled=true')).not.toContain(created.id);
    expect(await ids('enabled=true')).toContain(birthday.id);
    for (const bad of ['event=lottery', 'enabled=maybe']) {
      const res = await h.get(`/v1/triggers?${bad}`);
      expect(res.status).toBe(422);
      expect((await json(res)).errors[0]).toMatchObject({ path: bad.split('=')[0], in: 'query' });
    }
    expect((await h.delete(`/v1/triggers/${birthday.id}`)).status).toBe(204);
    expect((await h.delete(`/v1/triggers/${created.id}`)).status).toBe(204);
    expect((await h.get(`/v1/triggers/${created.id}`)).status).toBe(404);
  });

  it('rejects an invalid filter, missing params and unknown templates with 422, writing nothing', async () => {
    const [{ n: before }] = (await h.db.sql`select count(*)::int as n from triggers`) as unknown as [
      { n: number },
    ];
    const cases: [Record<string, unknown>, string][] = [
      [{ event: 'purchase', filter: { no_such_op: [1, 2] } }, 'filter'],
      [{ event: 'purchase', filter: { '==': [{ var: 'customer.x' }] } }, 'filter'],
      [{ event: 'inactive_for' }, 'params.days'],
      [{ event: 'date_attribute', params: { offset_days: 1 } }, 'params.attribute'],
      [{ event: 'purchase', template_id: 999_999 }, 'template_id'],
      [{ event: 'purchase', template_version: 99 }, 'template_version'],
      [{ event: 'purchase', delay: { at_local_hour: 24 } }, 'delay.at_local_hour'],
      [{ event: 'purchase', surprise: 1 }, 'surprise'],
      [{ event: 'nope' }, 'event'],
    ];
    for (const [body, path] of cases) {
      const res = await h.post('/v1/triggers', { name: 'Bad', template_id: templateId, ...body });
      expect(res.status, path).toBe(422);
      const errors = (await json(res)).errors.map((e: { path: string }) => e.path);
      expect(
        errors.some((p: string) => p === path || p.startsWith(`${path}.`)),
        `${path} in ${errors}`,
      ).toBe(true);
    }
    const [{ n: after }] = (await h.db.sql`select count(*)::int as n from triggers`) as unknown as [
      { n: number },
    ];
    expect(after).toBe(before);
  });

  it('reads and sets the frequency cap; roles are enforced', async () => {
    expect(await json(await h.get('/v1/triggers/settings'))).toEqual({ max_messages: 3, days: 7 });
    await setCap(5, 10);
    expect(await json(await h.get('/v1/triggers/settings'))).toEqual({ max_messages: 5, days: 10 });
    expect(
      (await h.request('PUT', '/v1/triggers/settings', { body: { max_messages: -1, days: 1 } })).status,
    ).toBe(422);
    expect(
      (
        await h.post(
          '/v1/triggers',
          { name: 'x', event: 'purchase', template_id: templateId },
          { role: 'analyst' },
        )
      ).status,
    ).toBe(403);
    expect((await h.get('/v1/triggers', { role: 'sales' })).status).toBe(403);
    await setCap(3, 7);
  });
});

describe('firing', () => {
  it('a purchase fires the thank-you trigger once, posted twice or imported twice', async () => {
    const id = await trigger({ event: 'purchase', filter: { '>=': [{ var: 'event.amount' }, 10] } });
    const buyer = await customer();
    const worker = new Worker(QUEUES.trigger, triggerProcessor(deps()), {
      connection: createRedis(h.deps.config.REDIS_URL),
      prefix: h.queuePrefix,
    });
    try {
      const line = {
        external_line_id: 'ty-1',
        customer_id: buyer,
        order_ref: 'O-1',
        amount: 25,
        purchased_at: new Date().toISOString(),
      };
      expect(
        (await h.post('/v1/purchases', [line, { ...line, external_line_id: 'ty-2', amount: 5 }])).status,
      ).toBe(201);
      const [message] = await until(async () => {
        const rows = await messagesOf(id);
        return rows.length > 0 && rows;
      });
      expect(message).toMatchObject({ customer_id: buyer, status: 'queued' });
      // The send job exists, job id = message id.
      const job = await sendQueue.getJob(`m${message!.id}`);
      expect(job?.data).toMatchObject({ message_id: message!.id, campaign_id: null });
      expect((await h.post('/v1/purchases', line)).status).toBe(200);
      // The same purchases reach the queue again (an import of the same lines): nothing new.
      const again: TriggerEvent[] = [
        { event: 'purchase', key: `purchase:${message!.id}`, customer_id: buyer },
        ...(await h.db.sql<{ id: number }[]>`select id from purchases where customer_id = ${buyer}`).map(
          (p) => ({
            event: 'purchase' as const,
            key: `purchase:${p.id}`,
            customer_id: buyer,
            purchase_id: p.id,
          }),
        ),
      ];
      const result = await fireTriggerEvents(deps(), again);
      expect(result.queued).toBe(0);
      expect(await messagesOf(id)).toHaveLength(1);
    } finally {
      await worker.close();
    }
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('an imported file fires once, however often it is imported', async () => {
    const id = await trigger({ event: 'purchase' });
    const buyer = await customer({ external_id: 'imp-1' });
    // Bought an hour ago: older lines are history and fire nothing (see import-history.test.ts).
    const at = new Date(Date.now() - 3_600_000).toISOString();
    const csv = `external_line_id,customer_external_id,order_ref,amount,purchased_at\nimp-l1,imp-1,IMP,12,${at}\nimp-l2,imp-1,IMP,8,${at}\n`;
    const events: TriggerEvent[][] = [];
    const capture = {
      enqueue: async (_q: string, jobs: { data: Record<string, unknown> }[]) =>
        void events.push(...jobs.map((j) => j.data.events as TriggerEvent[])),
    };
    for (let i = 0; i < 2; i++) {
      async function* source() {
        yield Buffer.from(csv);
      }
      await importLocalStream(
        { sql: h.db.sql, jobs: capture, clock: () => new Date() },
        { kind: 'purchases', filename: 'p.csv', source: source(), options: {} },
      );
    }
    // Replay the import's events twice (a retried job): one firing per order.
    const all = events.flat();
    await fireTriggerEvents(deps(), all);
    await fireTriggerEvents(deps(), all);
    const rows = await messagesOf(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.customer_id).toBe(buyer);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('a delayed message survives a worker restart, and a lost job comes back from its row', async () => {
    const id = await trigger({ event: 'customer_created', delay: { hours: 48 } });
    const who = await customer();
    const w1 = new Worker(QUEUES.trigger, triggerProcessor(deps()), {
      connection: createRedis(h.deps.config.REDIS_URL),
      prefix: h.queuePrefix,
    });
    await h.dispatcher.enqueue(QUEUES.trigger, [
      {
        name: 'events',
        data: { events: [{ event: 'customer_created', key: `customer:${who}`, customer_id: who }] },
      },
    ]);
    const [m] = await until(async () => {
      const rows = await messagesOf(id);
      return rows.length > 0 && rows;
    });
    await w1.close();
    expect(m!.send_at.getTime()).toBeGreaterThan(Date.now() + 47 * 3_600_000);
    // A new worker process: the delayed send job is still in Redis.
    const w2 = new Worker(QUEUES.trigger, triggerProcessor(deps()), {
      connection: createRedis(h.deps.config.REDIS_URL),
      prefix: h.queuePrefix,
    });
    expect(await sendQueue.getJobState(`m${m!.id}`)).toBe('delayed');
    // Closing a worker whose connection is still being set up rejects inside ioredis
    // (taskforcesh/bullmq#2437, #3546): let it get ready first.
    await w2.waitUntilReady();
    await w2.close();
    // Redis loses it: the row is still queued and the reconciliation hands it over again, delayed.
    await (await sendQueue.getJob(`m${m!.id}`))!.remove();
    expect(await sendQueue.getJob(`m${m!.id}`)).toBeUndefined();
    expect(
      await reconcileTriggerMessages({ ...deps(), jobs: h.dispatcher }, { idleSeconds: 0 }),
    ).toBeGreaterThanOrEqual(1);
    const job = (await sendQueue.getJob(`m${m!.id}`)) as Job;
    expect(await job.getState()).toBe('delayed');
    expect(job.opts.delay).toBeGreaterThan(47 * 3_600_000);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
    expect((await messagesOf(id))[0]!.status).toBe('cancelled');
  });

  it('a later purchase cancels a pending replenish reminder, not the one it fired', async () => {
    const id = await trigger({ event: 'purchase', delay: { hours: 24 * 30 }, cancel_on_purchase: true });
    const who = await customer();
    const p = async (ref: string, at: Date) => {
      const [row] = await h.db.sql<{ id: number }[]>`
        insert into purchases (external_line_id, customer_id, order_ref, amount, purchased_at)
        values (${ref}, ${who}, ${ref}, 10, ${at}) returning id`;
      return {
        event: 'purchase' as const,
        key: `purchase:${row!.id}`,
        customer_id: who,
        purchase_id: row!.id,
      };
    };
    const first = await fireTriggerEvents(deps(), [await p('R1', new Date(Date.now() - 3_600_000))]);
    expect(first.queued).toBe(1);
    const second = await fireTriggerEvents(deps(), [await p('R2', new Date())]);
    expect(second).toMatchObject({ queued: 1, cancelled: 1 });
    const rows = await messagesOf(id);
    expect(rows.map((r) => [r.status, r.suppressed_reason])).toEqual([
      ['cancelled', 'purchased_since'],
      ['queued', null],
    ]);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('holds the frequency cap across triggers, and suppresses who may not be mailed', async () => {
    await setCap(2, 7);
    const a = await trigger({ event: 'social_message' });
    const b = await trigger({ event: 'social_message' });
    const who = await customer();
    const nobody = await customer({}, false);
    const ev = (n: number, c = who): TriggerEvent => ({
      event: 'social_message',
      key: `s:${c}:${n}`,
      customer_id: c,
    });
    const r1 = await fireTriggerEvents(deps(), [ev(1), ev(2)]);
    expect(r1).toMatchObject({ queued: 2, capped: 2 });
    const r2 = await fireTriggerEvents(deps(), [ev(3)]);
    expect(r2).toMatchObject({ queued: 0, capped: 2 });
    const firings = await h.db.sql<{ outcome: string; n: number }[]>`
      select outcome, count(*)::int as n from trigger_firings where customer_id = ${who} group by outcome order by outcome`;
    expect(firings).toEqual([
      { outcome: 'capped', n: 4 },
      { outcome: 'queued', n: 2 },
    ]);
    const r3 = await fireTriggerEvents(deps(), [ev(1, nobody)]);
    expect(r3).toMatchObject({ queued: 0, suppressed: 2 });
    expect((await messagesOf(a)).filter((m) => m.customer_id === nobody)[0]).toMatchObject({
      status: 'suppressed',
      suppressed_reason: 'unsubscribed',
    });
    await setCap(3, 7);
    for (const t of [a, b]) await h.patch(`/v1/triggers/${t}`, { enabled: false });
  });

  it('a birthday fires on the day in the customer’s timezone, once a year', async () => {
    const id = await trigger({ event: 'birthday', delay: { at_local_hour: 9 } });
    const la = await customer({ birth_date: '1990-03-15', timezone: 'America/Los_Angeles' });
    const auckland = await customer({ birth_date: '1985-03-15', timezone: 'Pacific/Auckland' });
    const leap = await customer({ birth_date: '2000-02-29', timezone: null });
    const at = (iso: string) => deps(() => new Date(iso));
    // 14 March 12:00 UTC: already 15 March in Auckland, still 14 March in Los Angeles.
    await scanScheduledTriggers(at('2025-03-14T12:00:00Z'));
    expect((await messagesOf(id)).map((m) => m.customer_id)).toEqual([auckland]);
    // 15 March 05:00 UTC is 14 March 22:00 in Los Angeles: not yet.
    await scanScheduledTriggers(at('2025-03-15T05:00:00Z'));
    expect(await messagesOf(id)).toHaveLength(1);
    await scanScheduledTriggers(at('2025-03-15T12:00:00Z'));
    await scanScheduledTriggers(at('2025-03-15T20:00:00Z'));
    const rows = await messagesOf(id);
    expect(rows.map((m) => m.customer_id)).toEqual([auckland, la]);
    // 09:00 in Los Angeles on 15 March 2025 (PDT, UTC-7).
    expect(rows[1]!.send_at.toISOString()).toBe('2025-03-15T16:00:00.000Z');
    // 29 February birthdays on 28 February in a common year; not on 28 February in a leap year.
    await scanScheduledTriggers(at('2025-02-28T12:00:00Z'));
    await scanScheduledTriggers(at('2024-02-28T12:00:00Z'));
    expect((await messagesOf(id)).filter((m) => m.customer_id === leap)).toHaveLength(1);
    const keys = await h.db.sql<
      { event_key: string }[]
    >`select event_key from trigger_firings where trigger_id = ${id} and customer_id = ${leap}`;
    expect(keys.map((k) => k.event_key)).toEqual([`birthday:${leap}:2025`]);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('fires inactive_for once per inactivity and date_attribute on the day', async () => {
    const inactive = await trigger({ event: 'inactive_for', params: { days: 60 } });
    const renewal = await trigger({
      event: 'date_attribute',
      params: { attribute: 'contract_end', offset_days: -7 },
    });
    const sleeper = await customer({ attributes: h.db.sql.json({ contract_end: '2025-06-30' }) });
    const awake = await customer({ attributes: h.db.sql.json({ contract_end: 'not a date' }) });
    await h.db.sql`
      insert into purchases (external_line_id, customer_id, amount, purchased_at) values
        ('in-1', ${sleeper}, 10, '2025-03-01T10:00:00Z'), ('in-2', ${awake}, 10, '2025-06-01T10:00:00Z')`;
    const on = (iso: string) => deps(() => new Date(iso));
    await scanScheduledTriggers(on('2025-06-23T10:00:00Z'));
    await scanScheduledTriggers(on('2025-06-23T11:00:00Z'));
    const mine = (rows: { customer_id: number }[]) =>
      rows.map((m) => m.customer_id).filter((c) => c === sleeper || c === awake);
    expect(mine(await messagesOf(inactive))).toEqual([sleeper]);
    expect(mine(await messagesOf(renewal))).toEqual([sleeper]);
    for (const t of [inactive, renewal]) await h.patch(`/v1/triggers/${t}`, { enabled: false });
  });
});
