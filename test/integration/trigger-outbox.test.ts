import { Readable } from 'node:stream';
import { Queue } from 'bullmq';
import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { importLocalStream } from '../../src/imports/run.js';
import { createRedis, type RedisConnection } from '../../src/queue/connection.js';
import { createBullDispatcher } from '../../src/queue/dispatcher.js';
import { QUEUES } from '../../src/queue/queues.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { recordTriggerEvents, type TriggerEvent } from '../../src/triggers/events.js';
import { drainTriggerOutbox } from '../../src/triggers/reconcile.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// The app as the edge build runs it (no queue, no Redis in its deps) writes trigger events to
// trigger_outbox; the reconciler, a real trigger worker and a real sender on Node then mail them
// to an SMTP sink. No reconciler role runs here: the test calls reconcile() itself.

let h: Harness;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
let redis: RedisConnection;
let sendQueue: Queue;
let triggerQueue: Queue;
let templateId: number;

beforeAll(async () => {
  h = await createHarness({ jobs: undefined, redis: undefined });
  redis = createRedis(h.deps.config.REDIS_URL);
  sendQueue = new Queue(QUEUES.send, { connection: redis, prefix: h.queuePrefix });
  triggerQueue = new Queue(QUEUES.trigger, { connection: redis, prefix: h.queuePrefix });
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['trigger', 'sender'],
    env: { QUEUE_PREFIX: h.queuePrefix, SEND_CONCURRENCY: '5', WORKER_LOCK_MS: '5000' },
    logger: h.deps.logger,
  });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await sendQueue?.close();
  await triggerQueue?.close();
  redis?.disconnect();
  await h?.close();
});

/** Waits until neither the trigger queue nor the send queue has work that could still mail. */
async function drained(): Promise<void> {
  await until(async () => {
    const t = await triggerQueue.getJobCounts('waiting', 'active', 'prioritized');
    const s = await sendQueue.getJobCounts('waiting', 'active', 'prioritized');
    return Object.values(t).every((n) => n === 0) && Object.values(s).every((n) => n === 0);
  });
}

const reconcileNow = () => reconcile({ sql: h.db.sql, jobs: h.dispatcher, clock: () => new Date() });

const outboxKeys = async (): Promise<string[]> => {
  const rows = await h.db.sql<{ events: TriggerEvent[] }[]>`select events from trigger_outbox order by id`;
  return rows.flatMap((r) => r.events.map((e) => e.key));
};

/** Jobs carrying events on the trigger queue, whatever their state (the scan scheduler aside). */
const eventJobs = async () =>
  (await triggerQueue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'])).filter(
    (j) => j.name === 'events',
  );

const mailsTo = async (address: string): Promise<ParsedMail[]> => {
  const mails = await Promise.all(sink.messages.map((raw) => simpleParser(raw)));
  return mails.filter((m) => (m.to as { text: string } | undefined)?.text === address);
};

const messagesOf = (triggerId: number) =>
  h.db.sql<{ status: string }[]>`select status from messages where trigger_id = ${triggerId} order by id`;

/** A customer with an address and marketing consent: the one a trigger mails. */
async function consentingCustomer(externalId: string): Promise<{ id: number }> {
  const [customer] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email, first_name)
    values (${externalId}, ${`${externalId}@example.test`}, 'Ada') returning id`;
  await h.db.sql`insert into consents (customer_id, purpose, granted, source)
    values (${customer!.id}, 'marketing_email', true, 'test')`;
  return customer!;
}

async function trigger(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/triggers', { name: 'Edge', template_id: templateId, ...body });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  return (await json(res)).id;
}

describe('trigger events posted where there is no queue (the edge build)', () => {
  it('a purchase goes to the outbox, and the reconciler has it mailed exactly once', async () => {
    const id = await trigger({ event: 'purchase' });
    const buyer = await consentingCustomer('edge-buyer');
    const line = {
      external_line_id: 'edge-line-1',
      customer_id: buyer.id,
      order_ref: 'E-1',
      amount: 30,
      purchased_at: new Date().toISOString(),
    };
    const res = await h.post('/v1/purchases', line);
    expect(res.status).toBe(201);
    const purchaseId = (await json(res)).data[0].id;
    expect(await outboxKeys()).toEqual([`purchase:${purchaseId}`]);
    expect(await eventJobs()).toHaveLength(0);
    // The same line again is no new purchase: no second row.
    expect((await h.post('/v1/purchases', line)).status).toBe(200);
    expect(await outboxKeys()).toHaveLength(1);

    const first = await reconcileNow();
    expect(first.enqueued).toBeGreaterThanOrEqual(1);
    expect(await outboxKeys()).toEqual([]);
    await until(async () => (await mailsTo('edge-buyer@example.test')).length === 1);

    // A hand-over repeated (a reconciler that enqueued but lost its commit) mails nothing more.
    await recordTriggerEvents(h.db.sql, [
      { event: 'purchase', key: `purchase:${purchaseId}`, customer_id: buyer.id, purchase_id: purchaseId },
    ]);
    await reconcileNow();
    await reconcileNow();
    expect(await outboxKeys()).toEqual([]);
    await drained();
    expect(await mailsTo('edge-buyer@example.test')).toHaveLength(1);
    expect((await messagesOf(id)).map((m) => m.status)).toEqual(['sent']);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('a new customer goes to the outbox and gets the customer_created mail once', async () => {
    const id = await trigger({ event: 'customer_created' });
    const body = {
      external_id: 'edge-new',
      email: 'edge-new@example.test',
      first_name: 'Bo',
      consents: { marketing_email: true },
    };
    const res = await h.post('/v1/customers', body);
    expect(res.status).toBe(201);
    const customerId = (await json(res)).id;
    // An update is no creation: it adds nothing.
    expect((await h.post('/v1/customers', { ...body, first_name: 'Bob' })).status).toBe(200);
    expect(await outboxKeys()).toEqual([`customer:${customerId}`]);
    expect(await eventJobs()).toHaveLength(0);

    await reconcileNow();
    await until(async () => (await mailsTo('edge-new@example.test')).length === 1);
    await reconcileNow();
    await drained();
    expect(await mailsTo('edge-new@example.test')).toHaveLength(1);
    expect((await messagesOf(id)).map((m) => m.status)).toEqual(['sent']);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('a social message goes to the outbox and fires its trigger', async () => {
    const id = await trigger({ event: 'social_message', delay: { hours: 2 } });
    const res = await h.post('/v1/inbound/social', { channel: 'instagram', handle: '@edge_fan', text: 'Hi' });
    expect(res.status).toBe(201);
    const { event_id, customer_id } = await json(res);
    expect(await outboxKeys()).toEqual([`social:${event_id}`]);
    expect((await reconcileNow()).enqueued).toBeGreaterThanOrEqual(1);
    expect(await outboxKeys()).toEqual([]);
    const [m] = await until(async () => {
      const rows = await h.db.sql<{ customer_id: number; status: string }[]>`
        select customer_id, status from messages where trigger_id = ${id}`;
      return rows.length > 0 && rows;
    });
    // The lead has no email or consent: the trigger fired for them, and the row says why nothing goes.
    expect(m).toEqual({ customer_id, status: 'suppressed' });
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('the outbox row commits with the purchase, the customer or the message, or none of them does', async () => {
    const id = await trigger({ event: 'purchase' });
    const customerTrigger = await trigger({ event: 'customer_created' });
    const socialTrigger = await trigger({ event: 'social_message' });
    const [buyer] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email) values ('edge-atomic', 'edge-atomic@example.test') returning id`;
    // The outbox refuses writes, as if the isolate died between the cause and its event.
    await h.db.sql.unsafe(`
      create function refuse_outbox() returns trigger language plpgsql as $$
        begin raise exception 'outbox unavailable'; end $$;
      create trigger refuse_outbox before insert on trigger_outbox
        for each row execute function refuse_outbox();`);
    const line = {
      external_line_id: 'edge-atomic-1',
      customer_id: buyer!.id,
      amount: 12,
      purchased_at: new Date().toISOString(),
    };
    const newCustomer = { external_id: 'edge-atomic-new', email: 'edge-atomic-new@example.test' };
    const social = { channel: 'facebook', handle: 'edge.atomic', text: 'Hello?' };
    try {
      expect((await h.post('/v1/purchases', line)).status).toBe(500);
      expect((await h.post('/v1/customers', newCustomer)).status).toBe(500);
      expect((await h.post('/v1/customers/batch', [newCustomer])).status).toBe(500);
      expect((await h.post('/v1/inbound/social', social)).status).toBe(500);
    } finally {
      await h.db.sql.unsafe('drop trigger refuse_outbox on trigger_outbox; drop function refuse_outbox()');
    }
    const [left] = await h.db.sql<{ purchases: number; customers: number; social: number }[]>`
      select (select count(*)::int from purchases where external_line_id = 'edge-atomic-1') as purchases,
        (select count(*)::int from customers where external_id = 'edge-atomic-new') as customers,
        (select count(*)::int from contact_events where kind = 'social' and text = 'Hello?') as social`;
    expect(left).toEqual({ purchases: 0, customers: 0, social: 0 });
    expect(await outboxKeys()).toEqual([]);

    // The integration's retry goes through whole: each cause with its event.
    const purchase = await h.post('/v1/purchases', line);
    expect(purchase.status).toBe(201);
    const customer = await h.post('/v1/customers', newCustomer);
    expect(customer.status).toBe(201);
    const message = await h.post('/v1/inbound/social', social);
    expect(message.status).toBe(201);
    expect(await outboxKeys()).toEqual([
      `purchase:${(await json(purchase)).data[0].id}`,
      `customer:${(await json(customer)).id}`,
      `social:${(await json(message)).event_id}`,
    ]);
    await h.db.sql`delete from trigger_outbox`;
    for (const t of [id, customerTrigger, socialTrigger])
      await h.patch(`/v1/triggers/${t}`, { enabled: false });
  });

  it('nothing is written when no trigger listens', async () => {
    const res = await h.post('/v1/customers', { external_id: 'edge-quiet', email: 'quiet@example.test' });
    expect(res.status).toBe(201);
    expect(await outboxKeys()).toEqual([]);
  });
});

describe('drainTriggerOutbox', () => {
  const events = (n: number, prefix: string): TriggerEvent[] =>
    Array.from({ length: n }, (_, i) => ({ event: 'birthday', key: `${prefix}:${i}`, customer_id: 1 }));

  it('stores events in rows of at most 1,000', async () => {
    await recordTriggerEvents(h.db.sql, events(2500, 'chunk'));
    const rows = await h.db.sql<{ n: number }[]>`
      select jsonb_array_length(events) as n from trigger_outbox order by id`;
    expect(rows.map((r) => r.n)).toEqual([1000, 1000, 500]);
    await h.db.sql`delete from trigger_outbox`;
  });

  it('keeps the rows when Redis is unreachable, and hands them all over once it is back', async () => {
    await recordTriggerEvents(h.db.sql, events(3, 'kept'));
    const closed = createRedis(h.deps.config.REDIS_URL);
    closed.disconnect();
    const down = createBullDispatcher(closed, `${h.queuePrefix}_down`);
    await expect(drainTriggerOutbox({ sql: h.db.sql, jobs: down })).rejects.toThrow();
    await down.close().catch(() => {});
    expect(await outboxKeys()).toEqual(['kept:0', 'kept:1', 'kept:2']);

    // A prefix no worker reads, so the handed-over jobs stay there to be looked at.
    const up = createBullDispatcher(redis, `${h.queuePrefix}_up`);
    try {
      await recordTriggerEvents(h.db.sql, events(2, 'more'));
      expect(await drainTriggerOutbox({ sql: h.db.sql, jobs: up }, { pageSize: 1 })).toBe(5);
      const jobs = await up.queue(QUEUES.trigger).getJobs(['waiting']);
      const keys = jobs.flatMap((j) => (j.data as { events: TriggerEvent[] }).events.map((e) => e.key));
      expect(keys.sort()).toEqual(['kept:0', 'kept:1', 'kept:2', 'more:0', 'more:1']);
      expect(await outboxKeys()).toEqual([]);
      await up.queue(QUEUES.trigger).obliterate({ force: true });
    } finally {
      await up.close();
    }
  });
});

describe('trigger events where there is a queue (Node)', () => {
  it('go to the queue after the commit, and stay for the reconciler when Redis refuses', async () => {
    const id = await trigger({ event: 'purchase' });
    const buyer = await consentingCustomer('node-buyer');
    const key = await h.keyFor('integrator');
    const postLine = (app: ReturnType<typeof createApp>, n: number) =>
      app.request('/v1/purchases', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          external_line_id: `node-line-${n}`,
          customer_id: buyer.id,
          order_ref: `N-${n}`,
          amount: 10 + n,
          purchased_at: new Date().toISOString(),
        }),
      });

    // Redis answering: the event is enqueued at once and its outbox row is gone.
    const first = await postLine(createApp({ ...h.deps, jobs: h.dispatcher }), 1);
    expect(first.status).toBe(201);
    expect(await outboxKeys()).toEqual([]);
    await until(async () => (await mailsTo('node-buyer@example.test')).length === 1);

    // Redis refusing: the purchase is stored all the same, its event kept in the outbox...
    const closed = createRedis(h.deps.config.REDIS_URL);
    closed.disconnect();
    const down = createBullDispatcher(closed, `${h.queuePrefix}_down2`);
    try {
      const second = await postLine(createApp({ ...h.deps, jobs: down }), 2);
      expect(second.status).toBe(201);
      const purchaseId = (await json(second)).data[0].id;
      expect(await outboxKeys()).toEqual([`purchase:${purchaseId}`]);
    } finally {
      await down.close().catch(() => {});
    }
    // ...until the reconciler hands it over: the second order is thanked too, once.
    await reconcileNow();
    expect(await outboxKeys()).toEqual([]);
    await until(async () => (await mailsTo('node-buyer@example.test')).length === 2);
    await drained();
    expect((await messagesOf(id)).map((m) => m.status)).toEqual(['sent', 'sent']);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('an import batch records its events with its rows: Redis down during the import loses none', async () => {
    const id = await trigger({ event: 'purchase' });
    await consentingCustomer('import-buyer');
    const closed = createRedis(h.deps.config.REDIS_URL);
    closed.disconnect();
    const down = createBullDispatcher(closed, `${h.queuePrefix}_down3`);
    const today = new Date().toISOString();
    const csv = `external_line_id,customer_external_id,order_ref,amount,purchased_at\nimp-1,import-buyer,IMP-1,5,${today}\n`;
    try {
      const { progress } = await importLocalStream(
        { sql: h.db.sql, jobs: down, clock: () => new Date() },
        { kind: 'purchases', filename: 'erp.csv', source: Readable.from([Buffer.from(csv)]), options: {} },
      );
      expect(progress).toMatchObject({ created: 1, failed: 0 });
    } finally {
      await down.close().catch(() => {});
    }
    const [line] = await h.db.sql<
      { id: number }[]
    >`select id from purchases where external_line_id = 'imp-1'`;
    expect(await outboxKeys()).toEqual([`purchase:${line!.id}`]);
    await reconcileNow();
    await until(async () => (await mailsTo('import-buyer@example.test')).length === 1);
    await drained();
    expect((await messagesOf(id)).map((m) => m.status)).toEqual(['sent']);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });
});
