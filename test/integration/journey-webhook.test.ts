import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// The journey `webhook` step through HTTP and the real trigger, journey and webhook workers,
// with a loopback receiver: the delivery is signed as every other webhook (Standard Webhooks,
// the webhooks module's signing), a 500 is retried under the same webhook-id, and the customer
// moves on to the next step without waiting for the receiver. A receiver that keeps failing
// fails the delivery for good once the retry window is over and disables its endpoint, while
// the journey still completes; a step whose endpoint was deleted goes on with `no_endpoint`.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let h: Harness;
let workers: RunningWorkers | undefined;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** webhook-ids already answered 500 once (the receiver fails each first attempt on /flaky). */
const failedOnce = new Set<string>();
let attributeDeclared = false;

beforeAll(async () => {
  h = await createHarness();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const fail = req.url === '/down' || (req.url === '/flaky' && !failedOnce.has(id));
      if (fail) failedOnce.add(id);
      const answered = fail ? 500 : 200;
      received.push({ headers: req.headers, body, answered });
      res.writeHead(answered).end(fail ? 'try later' : 'ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  workers = await startWorkers({
    config: {
      ...h.deps.config,
      DATABASE_URL: h.db.url,
      WEBHOOK_ALLOW_PRIVATE: true,
      WEBHOOK_RETRY_BASE_MS: 200,
      WEBHOOK_RETRY_WINDOW_SECONDS: 2,
    },
    roles: ['trigger', 'journey', 'webhook', 'reconciler'],
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
  await new Promise((resolve) => receiver?.close(resolve));
  await h?.close();
});

/** Creates an endpoint on the loopback receiver (the app allowed private addresses, as in tests). */
async function endpoint(path: string): Promise<{ id: number; secret: string }> {
  const app = createApp({ ...h.deps, config: { ...h.deps.config, WEBHOOK_ALLOW_PRIVATE: true } });
  const res = await app.request('/v1/webhooks', {
    method: 'POST',
    headers: { authorization: `Bearer ${await h.keyFor('admin')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${receiverUrl}${path}`, events: ['message.sent'] }),
  });
  expect(res.status).toBe(201);
  return json(res);
}

async function journeyTo(endpointId: number, name: string): Promise<number> {
  if (!attributeDeclared) {
    expect((await h.post('/v1/attributes', { key: 'crm_notified', type: 'boolean' })).status).toBe(201);
    attributeDeclared = true;
  }
  const res = await h.post('/v1/journeys', {
    name,
    entry: { event: name },
    start: 'notify',
    steps: [
      { id: 'notify', type: 'webhook', endpoint_id: endpointId, next: 'mark' },
      { id: 'mark', type: 'update_attribute', key: 'crm_notified', value: true, next: 'end' },
      { id: 'end', type: 'exit' },
    ],
  });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  const id = (await json(res)).id;
  expect((await h.post(`/v1/journeys/${id}/activate`)).status).toBe(200);
  return id;
}

let serial = 0;
async function enterCustomer(event: string): Promise<number> {
  serial += 1;
  const external = `hook-${serial}`;
  const created = await h.post('/v1/customers', { external_id: external, email: `${external}@example.test` });
  expect(created.status).toBe(201);
  const tracked = await h.post(
    '/v1/events',
    { type: 'track', event, userId: external, messageId: `wh-${serial}`, properties: { plan: 'pro' } },
    { role: 'integrator' },
  );
  expect(tracked.status).toBe(201);
  return (await json(created)).id;
}

const entryOf = async (journeyId: number, customerId: number) => {
  const [row] = await h.db.sql<{ id: number; status: string }[]>`
    select id, status from journey_entries where journey_id = ${journeyId} and customer_id = ${customerId}`;
  return row;
};
const deliveriesOf = (endpointId: number) =>
  h.db.sql<{ msg_id: string; status: string; attempts: number; last_error: string | null }[]>`
    select msg_id, status, attempts, last_error from webhook_deliveries where endpoint_id = ${endpointId}`;

describe('journey webhook step', () => {
  it('delivers a signed journey.step, retries a 500 under the same id, and the customer goes on', async () => {
    const hook = await endpoint('/flaky');
    const id = await journeyTo(hook.id, 'crm_signup');
    const customerId = await enterCustomer('crm_signup');
    await until(async () => (await entryOf(id, customerId))?.status === 'completed');
    const [customer] = await h.db.sql`select attributes from customers where id = ${customerId}`;
    expect(customer!.attributes.crm_notified).toBe(true);

    await until(async () => (await deliveriesOf(hook.id))[0]?.status === 'succeeded');
    const [delivery] = await deliveriesOf(hook.id);
    const entry = (await entryOf(id, customerId))!;
    expect(delivery!.msg_id).toBe(`journey_${entry.id}_0`);
    const tries = received.filter((r) => r.headers['webhook-id'] === delivery!.msg_id);
    expect(tries.map((r) => r.answered)).toEqual([500, 200]);
    expect(tries[0]!.body).toBe(tries[1]!.body);

    const wh = new Webhook(hook.secret);
    const payload = wh.verify(tries[1]!.body, tries[1]!.headers as Record<string, string>) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(payload.type).toBe('journey.step');
    expect(payload.data).toMatchObject({
      journey_id: id,
      entry_id: entry.id,
      step: 'notify',
      customer_id: customerId,
      event: { name: 'crm_signup', properties: { plan: 'pro' } },
    });
    expect(() =>
      wh.verify(tries[1]!.body.replace('notify', 'notifz'), tries[1]!.headers as Record<string, string>),
    ).toThrow();

    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report.steps.notify.entered).toBe(1);
    expect(report.steps.mark.entered).toBe(1);
  });

  it('a receiver that keeps failing: the delivery fails for good and disables the endpoint, the journey completes', async () => {
    const hook = await endpoint('/down');
    const id = await journeyTo(hook.id, 'crm_down');
    const customerId = await enterCustomer('crm_down');
    await until(async () => (await entryOf(id, customerId))?.status === 'completed');
    await until(async () => (await deliveriesOf(hook.id))[0]?.status === 'failed');
    const [delivery] = await deliveriesOf(hook.id);
    expect(delivery!.attempts).toBeGreaterThan(1);
    expect(delivery!.last_error).toContain('HTTP 500');
    const shown = await json(await h.get(`/v1/webhooks/${hook.id}`));
    expect(shown.enabled).toBe(false);
  });

  it('an endpoint deleted after the journey was saved: the step says no_endpoint and the customer goes on', async () => {
    const hook = await endpoint('/flaky');
    const id = await journeyTo(hook.id, 'crm_gone');
    expect((await h.delete(`/v1/webhooks/${hook.id}`)).status).toBe(204);
    const customerId = await enterCustomer('crm_gone');
    await until(async () => (await entryOf(id, customerId))?.status === 'completed');
    const [run] = await h.db.sql`
      select outcome from journey_step_runs where journey_id = ${id} and step = 'notify'`;
    expect(run!.outcome).toBe('no_endpoint');
    expect(await deliveriesOf(hook.id)).toHaveLength(0);
  });
});
