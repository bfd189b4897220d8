import { Queue } from 'bullmq';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisConnection } from '../../src/queue/connection.js';
import { QUEUES } from '../../src/queue/queues.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { until } from '../helpers/until.js';

// Trigger messages through the real worker roles (trigger queue, sender, reconciler, import)
// started in-process, and an SMTP sink: what arrives there is what a customer would get.

let h: Harness;
let rig: SendingWorkers | undefined;
let redis: RedisConnection;
let sendQueue: Queue;
let triggerQueue: Queue;
let templateId: number;
let offerId: number;

beforeAll(async () => {
  h = await createHarness();
  redis = createRedis(h.deps.config.REDIS_URL);
  sendQueue = new Queue(QUEUES.send, { connection: redis, prefix: h.queuePrefix });
  triggerQueue = new Queue(QUEUES.trigger, { connection: redis, prefix: h.queuePrefix });
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<
    { id: number }[]
  >`select id from templates where name ilike '%offer%' order by id limit 1`;
  templateId = t!.id;
  const [o] = await h.db.sql<{ id: number }[]>`
    insert into offers (name, title, url, code, priority, fallback)
    values ('thanks', 'Free delivery next time', 'https://shop.example/free', 'THX', 1, true) returning id`;
  offerId = o!.id;
  rig = await startSendingWorkers(h, { env: { SEND_CONCURRENCY: '5', WORKER_LOCK_MS: '5000' } });
});
afterAll(async () => {
  await rig?.close();
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

async function trigger(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/triggers', { name: 'Thank you', template_id: templateId, ...body });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  return (await json(res)).id;
}

const messagesOf = (triggerId: number) =>
  h.db.sql<{ id: number; customer_id: number; status: string; suppressed_reason: string | null }[]>`
    select id, customer_id, status, suppressed_reason from messages where trigger_id = ${triggerId} order by id`;

const mailsTo = async (address: string): Promise<ParsedMail[]> => {
  return (await rig!.mails()).filter((m) => (m.to as { text: string } | undefined)?.text === address);
};

describe('trigger messages through the sender', () => {
  it('a purchase sends the thank-you email exactly once, posted twice, with its history', async () => {
    const id = await trigger({ event: 'purchase', offers_per_email: 1 });
    const [buyer] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email, first_name, timezone)
      values ('buyer-1', 'buyer1@example.test', 'Ada', 'Europe/Paris') returning id`;
    await h.db.sql`insert into consents (customer_id, purpose, granted, source)
      values (${buyer!.id}, 'marketing_email', true, 'test')`;
    const line = {
      external_line_id: 'send-1',
      customer_id: buyer!.id,
      order_ref: 'S-1',
      amount: 30,
      purchased_at: new Date().toISOString(),
    };
    expect((await h.post('/v1/purchases', line)).status).toBe(201);
    const [sent] = await until(async () => {
      const rows = await messagesOf(id);
      return rows[0]?.status === 'sent' && rows;
    });
    expect((await h.post('/v1/purchases', line)).status).toBe(200);
    await drained();
    expect(await messagesOf(id)).toHaveLength(1);

    const mails = await mailsTo('buyer1@example.test');
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.messageId).toMatch(new RegExp(`^<m${sent!.id}\\.t${id}\\.\\w+@localhost>$`));
    expect(mail.headers.get('x-offerflow-trigger')).toBe(String(id));
    expect(mail.headers.get('x-offerflow-campaign')).toBeUndefined();
    const header = (key: string) => mail.headerLines.find((l) => l.key === key)?.line ?? '';
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(mail.html).toContain('Ada');
    expect(mail.html).toContain('Free delivery next time');

    const timeline = await json(await h.get(`/v1/customers/${buyer!.id}/timeline`));
    const event = timeline.data.find((e: { kind: string }) => e.kind === 'sent');
    expect(event).toMatchObject({ message_id: sent!.id, trigger_id: id, campaign_id: null });
    const impressions = await h.db.sql<{ trigger_id: number; offer_id: number }[]>`
      select trigger_id, offer_id from offer_impressions where message_id = ${sent!.id}`;
    expect(impressions).toEqual([{ trigger_id: id, offer_id: offerId }]);
    const view = await json(await h.get(`/v1/triggers/${id}`));
    expect(view.messages).toEqual({ sent: 1 });
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('a thank-you email says which order it thanks for: its ref, date and total', async () => {
    const [postPurchase] = await h.db.sql<{ id: number }[]>`
      select id from templates where name ilike '%post-purchase%' limit 1`;
    const id = await trigger({ event: 'purchase', template_id: postPurchase!.id });
    const [buyer] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email, first_name, locale)
      values ('buyer-order', 'order@example.test', 'Olga', 'en-GB') returning id`;
    await h.db.sql`insert into consents (customer_id, purpose, granted, source)
      values (${buyer!.id}, 'marketing_email', true, 'test')`;
    const at = '2026-03-14T10:00:00Z';
    const lines = [
      {
        external_line_id: 'ord-1',
        customer_id: buyer!.id,
        order_ref: 'O-7781',
        amount: 50,
        purchased_at: at,
      },
      {
        external_line_id: 'ord-2',
        customer_id: buyer!.id,
        order_ref: 'O-7781',
        amount: 30.5,
        purchased_at: at,
      },
    ];
    expect((await h.post('/v1/purchases', lines)).status).toBe(201);
    await until(async () => (await messagesOf(id))[0]?.status === 'sent');
    const [mail] = await mailsTo('order@example.test');
    expect(mail!.subject).toContain('O-7781');
    // One email for the two lines of the order, with its total.
    expect(mail!.text).toMatch(/Your order O-7781 of .*2026.* for €80\.50 is confirmed\./);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });

    // Any automated email can say when the latest order was (the win-back template does).
    const [winBack] = await h.db.sql<
      { id: number }[]
    >`select id from templates where name ilike '%win-back%' limit 1`;
    const reminder = await trigger({ event: 'purchase', template_id: winBack!.id });
    const later = {
      ...lines[0]!,
      external_line_id: 'ord-3',
      order_ref: 'O-7790',
      purchased_at: '2026-04-02T09:00:00Z',
    };
    expect((await h.post('/v1/purchases', later)).status).toBe(201);
    await until(async () => (await messagesOf(reminder))[0]?.status === 'sent');
    const mails = await mailsTo('order@example.test');
    expect(mails).toHaveLength(2);
    expect(mails.map((m) => m.text).join('\n')).toMatch(/Your last order was on .*2 Apr.* 2026/);
    await h.patch(`/v1/triggers/${reminder}`, { enabled: false });
  });

  it('a customer who unsubscribes during the delay gets nothing; the row says why', async () => {
    const id = await trigger({ event: 'customer_created', delay: { hours: 1 } });
    const res = await h.post('/v1/customers', {
      external_id: 'new-1',
      email: 'new1@example.test',
      first_name: 'Bo',
      consents: { marketing_email: true },
    });
    expect(res.status).toBe(201);
    const { id: customerId } = await json(res);
    // An update is not a creation: it fires nothing.
    expect((await h.post('/v1/customers', { external_id: 'new-1', first_name: 'Bob' })).status).toBe(200);
    const [m] = await until(async () => {
      const rows = await messagesOf(id);
      return rows.length > 0 && rows;
    });
    expect(m).toMatchObject({ customer_id: customerId, status: 'queued' });
    const job = await sendQueue.getJob(`m${m!.id}`);
    expect(await job!.getState()).toBe('delayed');

    // The job running before its row is due (promoted by hand) sends nothing and leaves it queued.
    await job!.promote();
    await until(async () => !(await sendQueue.getJob(`m${m!.id}`)));
    expect((await messagesOf(id))[0]!.status).toBe('queued');

    expect(
      (
        await h.post(`/v1/customers/${customerId}/consents`, {
          purpose: 'marketing_email',
          granted: false,
          source: 'unsubscribe_page',
        })
      ).status,
    ).toBe(201);
    // Its time comes; the reconciler hands the row to the queue again and the sender checks.
    await h.db
      .sql`update messages set send_at = now(), enqueued_at = null, updated_at = now() - interval '1 hour'
      where id = ${m!.id}`;
    // Claimed (`sending`) first, then the sender's consent check decides: wait for a final state.
    const [row] = await until(async () => {
      const rows = await messagesOf(id);
      return !['queued', 'sending'].includes(rows[0]?.status ?? 'queued') && rows;
    });
    expect(row).toMatchObject({ status: 'suppressed', suppressed_reason: 'unsubscribed' });
    await drained();
    expect(await mailsTo('new1@example.test')).toHaveLength(0);
    const sentEvents = await h.db.sql`
      select 1 from contact_events where customer_id = ${customerId} and kind = 'sent'`;
    expect(sentEvents).toHaveLength(0);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });

  it('a batch of customers fires customer_created for the created rows only', async () => {
    const id = await trigger({ event: 'customer_created' });
    const res = await h.post('/v1/customers/batch', [
      { external_id: 'new-1', first_name: 'Again' },
      { external_id: 'batch-2', email: 'batch2@example.test', consents: { marketing_email: true } },
    ]);
    expect(res.status).toBe(201);
    await until(async () => (await mailsTo('batch2@example.test')).length === 1);
    await drained();
    const rows = await messagesOf(id);
    expect(rows.map((r) => r.status)).toEqual(['sent']);
    await h.patch(`/v1/triggers/${id}`, { enabled: false });
  });
});

describe('the reconciler', () => {
  it('hands an upload left queued (stored by the edge build) to the import worker', async () => {
    const [row] = await h.db.sql<{ id: number }[]>`
      insert into imports (kind, status, filename, size_bytes) values ('customers', 'queued', 'edge.csv', 40)
      returning id`;
    await h.db.sql`insert into import_chunks (import_id, seq, data)
      values (${row!.id}, 0, ${Buffer.from('external_id,email\nedge-1,edge1@example.test\n')})`;
    const done = await until(async () => {
      const [r] = await h.db.sql<{ status: string; rows_created: number }[]>`
        select status, rows_created from imports where id = ${row!.id}`;
      return r?.status === 'done' && r;
    });
    expect(done.rows_created).toBe(1);
    expect(await h.db.sql`select 1 from customers where external_id = 'edge-1'`).toHaveLength(1);
    // Once done, reconciling again hands nothing more over for it.
    await reconcile({ sql: h.db.sql, jobs: h.dispatcher, clock: () => new Date() });
    const [after] = await h.db.sql<{ status: string }[]>`select status from imports where id = ${row!.id}`;
    expect(after!.status).toBe('done');
  });
});
