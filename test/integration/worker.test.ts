import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstable_startWorker } from 'wrangler';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { QUEUES } from '../../src/queue/queues.js';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken, type TokenPurpose } from '../../src/tracking/tokens.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// The Worker build (src/edge/entry.ts, wrangler.toml) in the real Workers runtime (workerd, started
// by wrangler) against this file's PostgreSQL database, standing in for Hyperdrive. Node's
// queue workers then send what the Worker launched: the rows are the outbox.

type DevWorker = Awaited<ReturnType<typeof unstable_startWorker>>;

let h: Harness;
let worker: DevWorker;
let base: URL;
let adminKey: string;
let shop: ShopFixture;
let sink: SmtpSink | undefined;
let nodeWorkers: RunningWorkers | undefined;
let triggerWorkers: RunningWorkers | undefined;
const secret = randomBytes(24).toString('hex');

beforeAll(async () => {
  h = await createHarness();
  adminKey = await h.keyFor('admin');
  shop = await seedCampaignShop(h.db.sql, 20, secret);
  // wrangler reads these when it starts the Worker: no Request.cf download (offline machines),
  // and Hyperdrive's local mode connects straight to the test database.
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = h.db.url;
  worker = await unstable_startWorker({
    config: 'wrangler.toml',
    // The CLI derives this from compatibility_flags; the API wants it spelled out.
    build: { nodejsCompatMode: 'v2' },
    bindings: {
      OFFERFLOW_SECRET: { type: 'secret_text', value: secret },
      PUBLIC_URL: { type: 'plain_text', value: 'http://edge.test' },
      LOG_LEVEL: { type: 'plain_text', value: 'warn' },
    },
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      persist: false,
      logLevel: 'warn',
    },
    sendMetrics: false,
  });
  await worker.ready;
  base = await worker.url;
}, 120_000);

afterAll(async () => {
  await triggerWorkers?.close();
  await nodeWorkers?.close();
  await sink?.close();
  await worker?.dispose();
  await h?.close();
});

/** A request to the Worker over HTTP, with the admin key unless `auth` is false. */
async function edge(
  method: string,
  path: string,
  body?: unknown,
  options: { auth?: boolean; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) headers.authorization = `Bearer ${adminKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(new URL(path, base), {
    method,
    headers,
    redirect: 'manual',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
}

const token = (purpose: TokenPurpose, messageId: number, linkIndex = 0) =>
  signToken(secret, purpose, { messageId, linkIndex });

/** Waits for rows the Worker writes after its response (waitUntil), without a fixed sleep. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

describe('the API on Workers', () => {
  it('answers health, the OpenAPI document and problem+json like the Node app', async () => {
    const health = await edge('GET', '/healthz', undefined, { auth: false });
    expect(health.status).toBe(200);
    expect(await json(health)).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'not configured' } });
    const doc = await json(await edge('GET', '/openapi.json', undefined, { auth: false }));
    expect(doc.servers).toEqual([{ url: 'http://edge.test' }]);
    expect(doc.paths['/v1/campaigns/{id}/launch']).toBeDefined();
    const anonymous = await edge('GET', '/v1/customers', undefined, { auth: false });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json');
  });

  it('creates a customer, and rejects a bad one with 422 naming the field', async () => {
    const res = await edge('POST', '/v1/customers', {
      external_id: 'edge-1',
      email: 'edge@example.org',
      first_name: 'Edge',
      preferred_categories: ['garden'],
      consents: { marketing_email: true },
    });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created).toMatchObject({ external_id: 'edge-1', preferred_categories: ['garden'] });
    const [row] = await h.db.sql`select email, preferred_categories from customers where id = ${created.id}`;
    expect(row).toMatchObject({ email: 'edge@example.org', preferred_categories: ['garden'] });

    const bad = await edge('POST', '/v1/customers', { external_id: 'edge-2', nickname: 'x' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors.map((e: { path: string }) => e.path)).toContain('nickname');
  });

  it('previews segments as the Node app does, in SQL and in process (JSON Logic without eval)', async () => {
    const rules = [
      { '>=': [{ var: 'total_spent' }, 100] },
      { '>=': [{ spent_in: ['garden', 10_000] }, 100] },
    ];
    const evaluations: string[] = [];
    for (const rule of rules) {
      const res = await edge('POST', '/v1/segments/preview', { rule });
      expect(res.status).toBe(200);
      const atEdge = await json(res);
      const onNode = await json(await h.post('/v1/segments/preview', { rule }));
      expect(atEdge.count).toBeGreaterThan(0);
      expect(atEdge).toEqual(onNode);
      evaluations.push(atEdge.evaluation);
    }
    expect(evaluations).toEqual(['sql', 'stream']);
  });
});

describe('templates on Workers', () => {
  it('compiles MJML at save; rendering answers 501 pointing at the Node API', async () => {
    const mjml = `<mjml><mj-body><mj-section><mj-column>
      <mj-text>Hello {{customer.first_name}}</mj-text><mj-text>{{> offers}}</mj-text>
    </mj-column></mj-section></mj-body></mjml>`;
    const res = await edge('POST', '/v1/templates', {
      name: 'Edge',
      subject: 'Hi {{customer.first_name}}',
      mjml,
    });
    expect(res.status).toBe(201);
    const { id } = await json(res);
    const [version] = await h.db.sql<{ html: string }[]>`
      select html from template_versions where template_id = ${id}`;
    expect(version!.html).toContain('Hello {{customer.first_name}}');

    const preview = await edge('POST', `/v1/templates/${id}/preview`, {
      customer_id: [...shop.eligible.keys()][0],
    });
    expect(preview.status).toBe(501);
    expect(preview.headers.get('content-type')).toBe('application/problem+json');
    expect(await json(preview)).toMatchObject({
      status: 501,
      type: 'https://offerflow.dev/problems/node-only',
    });
    // The shipped templates are files the Worker does not have.
    const defaults = await edge('POST', '/v1/templates/defaults');
    expect(defaults.status).toBe(501);
    expect((await json(defaults)).type).toBe('https://offerflow.dev/problems/node-only');
  });
});

describe('tracking on Workers', () => {
  let messageId: number;
  const target = 'https://shop.example/boots?utm=mail';

  beforeAll(async () => {
    const customerId = [...shop.eligible.keys()][0]!;
    const [campaign] = await h.db.sql<{ id: number }[]>`
      insert into campaigns (name, status) values ('edge tracking', 'sent') returning id`;
    const [message] = await h.db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, offer_ids, links, status, sent_at)
      values (${campaign!.id}, ${customerId}, ${[shop.offerIds[0]!]}::bigint[],
              ${h.db.sql.json({ [OFFER_LINK_BASE]: { url: target, offer_id: shop.offerIds[0]! } })},
              'sent', ${new Date(Date.now() - 3_600_000)})
      returning id`;
    messageId = message!.id;
  });

  const browser = {
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
  };
  const eventsOf = (kind: string) =>
    h.db.sql<{ kind: string; offer_id: number | null }[]>`
      select kind, offer_id from contact_events where message_id = ${messageId} and kind = ${kind}`;

  it('serves the open pixel and records the open after the response', async () => {
    const res = await edge('GET', `/t/o/${token('open', messageId)}`, undefined, {
      auth: false,
      headers: browser,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(new Uint8Array(await res.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode('GIF89a'));
    const rows = await eventually(
      () => eventsOf('opened'),
      (r) => r.length > 0,
    );
    expect(rows).toHaveLength(1);
  });

  it('redirects a click to the stored link only, and records it', async () => {
    const res = await edge(
      'GET',
      `/t/c/${token('click', messageId, OFFER_LINK_BASE)}?url=https://evil.example`,
      undefined,
      {
        auth: false,
        headers: browser,
      },
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(target);
    const rows = await eventually(
      () => eventsOf('clicked'),
      (r) => r.length > 0,
    );
    expect(rows).toEqual([{ kind: 'clicked', offer_id: shop.offerIds[0]! }]);

    const forged = await edge(
      'GET',
      `/t/c/${signToken('not-the-secret'.repeat(3), 'click', { messageId, linkIndex: OFFER_LINK_BASE })}`,
      undefined,
      {
        auth: false,
      },
    );
    expect(forged.status).toBe(404);
  });
});

describe('a campaign launched on Workers', () => {
  it('writes rows only; the Node reconciler and workers send it', async () => {
    const created = await edge('POST', '/v1/campaigns', {
      name: 'Edge launch',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 2,
      from: { address: 'offers@shop.example', name: 'Shop' },
    });
    expect(created.status).toBe(201);
    const { id } = await json(created);
    const launched = await edge('POST', `/v1/campaigns/${id}/launch`);
    expect(launched.status).toBe(200);
    expect(await json(launched)).toMatchObject({ status: 'sending', planned_at: null });

    // The outbox: the campaign row says `sending`, nothing is planned and nothing is queued.
    const planner = h.dispatcher.queue(QUEUES.planner);
    expect(await planner.getJob(`plan-${id}`)).toBeUndefined();
    const [rows] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from messages where campaign_id = ${id}`;
    expect(rows!.n).toBe(0);

    sink = await startSmtpSink({ keepInMemory: true });
    nodeWorkers = await startWorkers({
      config: { ...h.deps.config, OFFERFLOW_SECRET: secret, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
      roles: ['planner', 'sender', 'reconciler'],
      env: {
        QUEUE_PREFIX: h.queuePrefix,
        RECONCILE_INTERVAL_MS: '300',
        SEND_CONCURRENCY: '5',
        WORKER_LOCK_MS: '5000',
      },
      logger: h.deps.logger,
    });
    const campaign = await eventually(
      async () => json(await edge('GET', `/v1/campaigns/${id}`)),
      (c) => c.status === 'sent',
    );
    expect(campaign.status).toBe('sent');
    expect(campaign.progress.counts.sent).toBe(shop.eligible.size);
    expect(campaign.progress.counts.suppressed).toBe(shop.suppressed.size);
    const mails = await eventually(
      async () => sink!.messages.length,
      (count) => count >= shop.eligible.size,
    );
    expect(mails).toBe(shop.eligible.size);
  });
});

describe('a purchase posted on Workers', () => {
  it('lands in the trigger outbox; the Node reconciler and workers send the thank-you once', async () => {
    const trigger = await edge('POST', '/v1/triggers', {
      name: 'Edge thanks',
      event: 'purchase',
      template_id: shop.templateId,
    });
    expect(trigger.status).toBe(201);
    const triggerId = (await json(trigger)).id;
    const [customerId, customer] = [...shop.eligible.entries()][0]!;
    const line = {
      external_line_id: 'edge-purchase-1',
      customer_id: customerId,
      order_ref: 'EDGE-1',
      amount: 42,
      purchased_at: new Date().toISOString(),
    };
    const res = await edge('POST', '/v1/purchases', line);
    expect(res.status).toBe(201);
    // The Worker has no queue: only the outbox row (drained by the running reconciler, so not
    // asserted here; test/integration/trigger-outbox.test.ts does) can bring it to Node.
    expect((await edge('POST', '/v1/purchases', line)).status).toBe(200);

    // The campaign test left the planner, sender and reconciler running; a trigger worker joins.
    triggerWorkers = await startWorkers({
      config: { ...h.deps.config, OFFERFLOW_SECRET: secret, DATABASE_URL: h.db.url, SMTP_URL: sink!.url },
      roles: ['trigger'],
      env: { QUEUE_PREFIX: h.queuePrefix },
      logger: h.deps.logger,
    });
    const sent = await eventually(
      () => h.db.sql<{ status: string }[]>`select status from messages where trigger_id = ${triggerId}`,
      (rows) => rows[0]?.status === 'sent',
    );
    expect(sent).toEqual([{ status: 'sent' }]);
    expect(await h.db.sql`select 1 from trigger_outbox`).toHaveLength(0);
    const firings = await h.db.sql`
      select event_key from trigger_firings where trigger_id = ${triggerId}`;
    // One firing for the order, however often its line was posted.
    expect(firings).toHaveLength(1);
    const thanks = await eventually(
      async () =>
        sink!.messages
          .map(String)
          .filter((raw) => /^x-offerflow-trigger: (\d+)\r?$/im.exec(raw)?.[1] === String(triggerId)),
      (found) => found.length > 0,
    );
    expect(thanks).toHaveLength(1);
    expect(thanks[0]).toContain(customer.email);
  });
});
