import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { createRedis } from '../../src/queue/connection.js';
import { attemptDelivery } from '../../src/webhooks/deliver.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// Outbound webhooks through HTTP, the real worker roles, Redis, PostgreSQL, an SMTP sink and a
// loopback receiver that verifies nothing itself: the test checks what a receiver would.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let h: Harness;
/** A second database no worker polls: the tests that call `attemptDelivery` themselves use it, so
 * the worker cannot make the attempt first. */
let quiet: Harness;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** Answers 500 to the first delivery of these msg ids. */
const failOnce = new Set<string>();
/** Answers 500 to the first delivery of an event of these types. Decided by the receiver itself,
 * so the worker cannot deliver before the test has armed the failure. */
const failFirstOfType = new Set<string>();
let slowMs = 0;

const allowPrivate = (on: Harness) =>
  createApp({ ...on.deps, config: { ...on.deps.config, WEBHOOK_ALLOW_PRIVATE: true } });
const adminPost = async (path: string, body: unknown, on: Harness = h) =>
  allowPrivate(on).request(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${await on.keyFor('admin')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  h = await createHarness();
  quiet = await createHarness();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      let type: unknown;
      try {
        type = (JSON.parse(body) as { type?: unknown }).type;
      } catch {
        type = undefined;
      }
      const fail = failOnce.delete(id) || (typeof type === 'string' && failFirstOfType.delete(type));
      const answered = fail ? 500 : 200;
      received.push({ headers: req.headers, body, answered });
      setTimeout(() => res.writeHead(answered).end(fail ? 'try later' : 'ok'), slowMs);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: {
      ...h.deps.config,
      DATABASE_URL: h.db.url,
      SMTP_URL: sink.url,
      WEBHOOK_ALLOW_PRIVATE: true,
      WEBHOOK_RETRY_BASE_MS: 200,
    },
    roles: WORKER_ROLES,
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      RECONCILE_INTERVAL_MS: '300',
      WORKER_LOCK_MS: '5000',
      WEBHOOK_POLL_MS: '100',
    },
    logger: h.deps.logger,
  });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await h?.close();
  await quiet?.close();
});

const mjml = `<mjml><mj-body><mj-section><mj-column><mj-text>Cart {{event.properties.cart_url}}</mj-text>
  <mj-text><a href="{{unsubscribe_url}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>`;

describe('webhooks out', () => {
  it('refuses loopback, private and link-local URLs without WEBHOOK_ALLOW_PRIVATE', async () => {
    for (const url of [
      receiverUrl,
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest',
      'http://[::1]:80/',
      'http://localhost/x',
    ]) {
      const res = await h.post('/v1/webhooks', { url, events: ['message.sent'] });
      expect(res.status, url).toBe(422);
      expect((await json(res)).errors[0]).toMatchObject({ path: 'url' });
    }
    expect(
      (await h.post('/v1/webhooks', { url: 'ftp://example.com/', events: ['message.sent'] })).status,
    ).toBe(422);
    expect((await h.post('/v1/webhooks', { url: 'https://example.com/', events: ['nope'] })).status).toBe(
      422,
    );
    // Stored anyway (a name that resolved elsewhere when saved), it is refused at delivery time.
    const [w] = await quiet.db.sql`insert into webhook_endpoints (url, events, secret)
      values (${receiverUrl}, '{customer.erased}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') returning id`;
    const [d] = await quiet.db.sql`insert into webhook_deliveries (endpoint_id, event, msg_id, payload)
      values (${w!.id}, 'customer.erased', 'probe-1', '{}') returning id`;
    const result = await attemptDelivery(
      { sql: quiet.db.sql, allowPrivate: false, retryBaseMs: 1000, retryWindowMs: 86_400_000 },
      d!.id,
    );
    expect(result).toBe('retry');
    const [after] = await quiet.db.sql`select status, last_error from webhook_deliveries where id = ${d!.id}`;
    expect(after!.last_error).toMatch(/private/);
    expect(received.some((r) => r.headers['webhook-id'] === 'probe-1')).toBe(false);
    await quiet.db.sql`delete from webhook_endpoints where id = ${w!.id}`;
  });

  it('delivers each subscribed event once, signed so the standardwebhooks verifier accepts it; a 500 is retried', async () => {
    const created = await adminPost('/v1/webhooks', {
      url: receiverUrl,
      events: ['message.sent', 'customer.erased'],
      description: 'CRM',
    });
    expect(created.status).toBe(201);
    const endpoint = await json(created);
    expect(endpoint.secret).toMatch(/^whsec_/);
    const listed = await json(await h.get(`/v1/webhooks/${endpoint.id}`));
    expect(listed.secret).toBeUndefined();
    const template = await json(await h.post('/v1/templates', { name: 'Cart', subject: 'Your cart', mjml }));
    await h.post('/v1/triggers', {
      name: 'Cart',
      event: 'event',
      params: { event_name: 'cart_updated' },
      template_id: template.id,
    });
    const customer = await json(
      await h.post('/v1/customers', {
        external_id: 'hook-1',
        email: 'hook@example.test',
        consents: { marketing_email: true },
      }),
    );
    // The first message.sent delivery is answered 500 once, then accepted.
    failFirstOfType.add('message.sent');
    await h.post('/v1/events', {
      type: 'track',
      event: 'cart_updated',
      userId: 'hook-1',
      messageId: 'h-1',
      properties: { cart_url: 'https://s.example/c/1' },
    });
    await until(async () => {
      const [row] = await h.db
        .sql`select 1 from webhook_deliveries where endpoint_id = ${endpoint.id} and event = 'message.sent'`;
      return row !== undefined;
    });
    expect((await h.delete(`/v1/customers/${customer.id}`)).status).toBe(204);
    await until(async () => {
      const rows = await h.db.sql`select status from webhook_deliveries where endpoint_id = ${endpoint.id}`;
      return rows.length === 2 && rows.every((r) => r.status === 'succeeded');
    });
    const ok = received.filter((r) => r.answered === 200 && r.body.includes('"type"'));
    const types = ok.map((r) => JSON.parse(r.body).type).sort();
    expect(types).toEqual(['customer.erased', 'message.sent']);
    const wh = new Webhook(endpoint.secret);
    for (const r of ok) {
      const payload = wh.verify(r.body, r.headers as Record<string, string>) as {
        type: string;
        data: Record<string, unknown>;
      };
      expect(payload.data.customer_id).toBe(customer.id);
      // A forged body (or signature) is what the receiver rejects.
      expect(() =>
        wh.verify(r.body.replace('customer_id', 'customer_ix'), r.headers as Record<string, string>),
      ).toThrow();
      expect(() =>
        wh.verify(r.body, { ...(r.headers as Record<string, string>), 'webhook-signature': 'v1,AAAA' }),
      ).toThrow();
    }
    // The retried delivery: a 500, then the same webhook-id accepted.
    const sent = ok.find((r) => JSON.parse(r.body).type === 'message.sent')!;
    const tries = received.filter((r) => r.headers['webhook-id'] === sent.headers['webhook-id']);
    expect(tries.map((t) => t.answered)).toEqual([500, 200]);
    const log = await json(await h.get(`/v1/webhooks/${endpoint.id}/deliveries`));
    const sentLog = log.data.find((d: { event: string }) => d.event === 'message.sent');
    expect(sentLog).toMatchObject({ status: 'succeeded', attempts: 2, last_status: 200 });
    // Replay sends it again, under the same webhook-id.
    const replay = await h.post(`/v1/webhooks/${endpoint.id}/deliveries/${sentLog.id}/replay`);
    expect(replay.status).toBe(202);
    await until(
      async () => received.filter((r) => r.headers['webhook-id'] === sent.headers['webhook-id']).length === 3,
    );
    // Erased: the stored payloads keep no external id.
    const payloads = await h.db
      .sql`select payload from webhook_deliveries where customer_id = ${customer.id}`;
    expect(JSON.stringify(payloads)).not.toContain('hook-1');
  });

  it('an endpoint that keeps failing is disabled with the reason', async () => {
    const endpoint = await json(
      await adminPost('/v1/webhooks', { url: `${receiverUrl}-gone`, events: ['message.clicked'] }, quiet),
    );
    const [d] = await quiet.db
      .sql`insert into webhook_deliveries (endpoint_id, event, msg_id, payload, created_at)
      values (${endpoint.id}, 'message.clicked', 'old-1', '{}', now() - interval '2 days') returning id`;
    failOnce.add('old-1');
    const result = await attemptDelivery(
      { sql: quiet.db.sql, allowPrivate: true, retryBaseMs: 1000, retryWindowMs: 86_400_000 },
      d!.id,
    );
    expect(result).toBe('failed');
    const after = await json(await quiet.get(`/v1/webhooks/${endpoint.id}`));
    expect(after.enabled).toBe(false);
    expect(after.disabled_reason).toMatch(/HTTP 500/);
    const on = await quiet.patch(`/v1/webhooks/${endpoint.id}`, { enabled: true });
    expect(await json(on)).toMatchObject({ enabled: true, disabled_reason: null });
    expect((await quiet.delete(`/v1/webhooks/${endpoint.id}`)).status).toBe(204);
    expect((await quiet.get(`/v1/webhooks/${endpoint.id}`)).status).toBe(404);
  });

  it('loses nothing when Redis is wiped mid-delivery', async () => {
    const endpoint = await json(
      await adminPost('/v1/webhooks', { url: receiverUrl, events: ['message.opened'] }),
    );
    const [c] = await h.db.sql`insert into customers (external_id) values ('wipe-1') returning id`;
    slowMs = 150;
    await h.db.sql`insert into contact_events (customer_id, kind, at)
      select ${c!.id}, 'opened', now() - make_interval(secs => g) from generate_series(1, 30) g`;
    // Some are in flight: wipe every key of this test's queues.
    await until(async () => received.some((r) => r.body.includes('message.opened')));
    const redis = createRedis(h.deps.config.REDIS_URL);
    const keys = await redis.keys(`${h.queuePrefix}:webhook:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await until(async () => {
      const [row] = await h.db
        .sql`select count(*) filter (where status = 'succeeded')::int as ok, count(*)::int as n
        from webhook_deliveries where endpoint_id = ${endpoint.id}`;
      return row!.n === 30 && row!.ok === 30;
    });
    slowMs = 0;
    const ids = new Set(
      received
        .filter((r) => r.body.includes('message.opened') && r.answered === 200)
        .map((r) => r.headers['webhook-id']),
    );
    expect(ids.size).toBe(30);
  });
});
