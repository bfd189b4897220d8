import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, type WorkerRole } from '../../src/cli/queue-workers.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { sleep } from '../helpers/private-services.js';
import { eventually, type PrivateStack, startPrivateStack } from '../helpers/private-stack.js';
import { type RecordingSink, startRecordingSink } from '../helpers/recording-sink.js';

// Campaigns through PostgreSQL faults, against a cluster and a Redis of this file's own (created
// and removed here, on free loopback ports): stopped for 40 s, killed -9, out of connections;
// and customers erased while their mail is being sent. The sink counts mails by Message-ID.

const CUSTOMERS = 1200;
let s: PrivateStack;
let shop: ShopFixture;
let sink: RecordingSink | undefined;
const running: RunningWorkers[] = [];

beforeAll(async () => {
  s = await startPrivateStack();
  shop = await seedCampaignShop(s.sql, CUSTOMERS, s.config.OFFERFLOW_SECRET);
}, 120_000);
afterEach(async () => {
  for (const w of running.splice(0)) await w.close().catch(() => {});
  await sink?.close();
  sink = undefined;
});
afterAll(async () => s?.close());

async function start(roles: WorkerRole[], env: Record<string, string> = {}, smtpUrl = sink!.url) {
  const workers = await startWorkers({
    config: { ...s.config, SMTP_URL: smtpUrl },
    roles,
    env: {
      QUEUE_PREFIX: s.queuePrefix,
      RECONCILE_INTERVAL_MS: '500',
      RECONCILE_IDLE_SECONDS: '3',
      WORKER_LOCK_MS: '5000',
      SEND_CONCURRENCY: '20',
      ...env,
    },
    logger: pino({ level: 'silent' }),
  });
  running.push(workers);
}

async function launch(over: Record<string, unknown> = {}): Promise<number> {
  const res = await s.request('POST', '/v1/campaigns', {
    name: `faults ${Date.now()}`,
    segment_id: shop.segmentId,
    template_id: shop.templateId,
    offers_per_email: 2,
    from: { address: 'offers@shop.example' },
    ...over,
  });
  const { id } = (await res.json()) as { id: number };
  expect((await s.request('POST', `/v1/campaigns/${id}/launch`)).status).toBe(200);
  return id;
}

interface Counts {
  status: string;
  sent: number;
  failed: number;
  unsent: number;
}

async function counts(id: number): Promise<Counts> {
  const [row] = await s.sql<Counts[]>`
    select c.status,
      count(*) filter (where m.status = 'sent')::int as sent,
      count(*) filter (where m.status = 'failed')::int as failed,
      count(*) filter (where m.status in ('queued', 'sending'))::int as unsent
    from campaigns c left join messages m on m.campaign_id = c.id
    where c.id = ${id} group by c.status`;
  return row!;
}

/** Waits, unattended, until the campaign is `sent` (the test's own queries may fail meanwhile). */
const waitSent = (id: number, ms = 180_000) =>
  eventually(
    async () => {
      const c = await counts(id);
      return c.status === 'sent' ? c : null;
    },
    ms,
    `campaign ${id} sent`,
  );

/** Every eligible customer got exactly one mail (by Message-ID), the ledger agrees, none failed. */
async function expectExactlyOnce(id: number, c: Counts) {
  expect(c).toMatchObject({ status: 'sent', sent: shop.eligible.size, failed: 0, unsent: 0 });
  const byId = sink!.countsByMessageId(id);
  expect(byId.size).toBe(shop.eligible.size);
  expect([...byId.entries()].filter(([, n]) => n > 1)).toEqual([]);
  const recorded = await s.sql<{ smtp_message_id: string }[]>`
    select smtp_message_id from messages where campaign_id = ${id} and status = 'sent'`;
  expect(new Set(recorded.map((r) => r.smtp_message_id))).toEqual(new Set(byId.keys()));
  const [events] = await s.sql<{ n: number }[]>`
    select count(*)::int as n from contact_events where campaign_id = ${id} and kind = 'sent'`;
  expect(events!.n).toBe(shop.eligible.size);
}

/** One line per fault with its figures, for docs/operations.md. */
const figure = (fault: string, values: Record<string, number>) =>
  process.stdout.write(`[fault figures] ${fault}: ${JSON.stringify(values)}\n`);

const sentSoFar = async (id: number) => (await counts(id)).sent;

describe('campaigns through PostgreSQL faults', () => {
  it('PostgreSQL stopped for 40 s mid-campaign: nobody skipped, nobody mailed twice, sent unattended', async () => {
    sink = await startRecordingSink();
    await start(['planner', 'sender', 'reconciler']);
    const id = await launch({ throttle_per_second: 120 });
    await eventually(async () => (await sentSoFar(id)) >= 150, 60_000, 'the campaign under way');
    await s.pg.stop();
    const deliveredAtStop = sink.deliveries.length;
    await sleep(40_000);
    await s.pg.start();
    const c = await waitSent(id);
    expect(deliveredAtStop).toBeLessThan(shop.eligible.size);
    await expectExactlyOnce(id, c);
    figure('PostgreSQL stopped 40 s', {
      delivered_before_stop: deliveredAtStop,
      sent: c.sent,
      duplicates: 0,
    });
  });

  it('PostgreSQL killed -9 mid-campaign: nobody skipped, nobody mailed twice, sent unattended', async () => {
    sink = await startRecordingSink();
    await start(['planner', 'sender', 'reconciler']);
    const id = await launch({ throttle_per_second: 150 });
    await eventually(async () => (await sentSoFar(id)) >= 150, 60_000, 'the campaign under way');
    const deliveredAtKill = sink.deliveries.length;
    await s.pg.kill9();
    await sleep(2000);
    await s.pg.start();
    const c = await waitSent(id);
    await expectExactlyOnce(id, c);
    figure('PostgreSQL killed -9', { delivered_before_kill: deliveredAtKill, sent: c.sent, duplicates: 0 });
  });

  it('connections exhausted (max_connections 30, two senders at SEND_CONCURRENCY 200): no failed row, no duplicate', async () => {
    await s.pg.stop();
    await s.pg.start({ max_connections: 30 });
    try {
      sink = await startRecordingSink();
      const id = await eventually(() => launch(), 30_000, 'a launch');
      await start(['planner', 'sender', 'reconciler'], { SEND_CONCURRENCY: '200' });
      await start(['sender'], { SEND_CONCURRENCY: '200' });
      const c = await waitSent(id);
      await expectExactlyOnce(id, c);
      // The fault did happen: PostgreSQL turned connections away.
      const refused = s.pg.log().split('too many clients already').length - 1;
      expect(refused).toBeGreaterThan(0);
      figure('connection exhaustion', { refused_connections: refused, sent: c.sent, failed: c.failed });
    } finally {
      for (const w of running.splice(0)) await w.close().catch(() => {});
      await s.pg.stop();
      await s.pg.start({ max_connections: 100 });
    }
  });

  it('customers erased while their rows are sending: no mail after the erasure answered, the ledger says what went out', async () => {
    // A slow relay: each mail waits 300 ms for its 250, so rows stay `sending` a while.
    sink = await startRecordingSink({ replyDelayMs: 300 });
    await start(['planner', 'sender', 'reconciler'], { SEND_CONCURRENCY: '30', SMTP_POOL_SIZE: '30' });
    const id = await launch();
    const victims = await eventually(
      async () => {
        const rows = await s.sql<{ customer_id: number }[]>`
        select customer_id from messages where campaign_id = ${id} and status = 'sending' limit 20`;
        return rows.length === 20 ? rows.map((r) => r.customer_id) : null;
      },
      60_000,
      '20 rows sending',
    );
    const answeredAt = new Map<number, number>();
    await Promise.all(
      victims.map(async (customerId) => {
        const res = await s.request('DELETE', `/v1/customers/${customerId}`);
        expect(res.status).toBe(204);
        answeredAt.set(customerId, Date.now());
      }),
    );
    await waitSent(id);
    const rows = await s.sql<
      { customer_id: number; status: string; reason: string | null; sent_events: number }[]
    >`
      select m.customer_id, m.status, m.suppressed_reason as reason,
        (select count(*)::int from contact_events e where e.message_id = m.id and e.kind = 'sent') as sent_events
      from messages m where m.campaign_id = ${id} and m.customer_id = any(${victims}::bigint[])`;
    let stopped = 0;
    for (const row of rows) {
      const email = shop.eligible.get(row.customer_id)!.email;
      const mails = sink.deliveries.filter((d) => d.campaignId === id && d.to === email);
      // Nothing reached the sink after the erasure's response.
      for (const mail of mails) expect(mail.at).toBeLessThanOrEqual(answeredAt.get(row.customer_id)!);
      // The ledger agrees with the wire, row by row.
      if (mails.length === 1) {
        expect(row).toMatchObject({ status: 'sent', sent_events: 1 });
      } else {
        expect(mails).toHaveLength(0);
        expect(row).toMatchObject({ status: 'cancelled', reason: 'erased', sent_events: 0 });
        stopped++;
      }
    }
    expect(rows).toHaveLength(20);
    // The erased are no longer on file: no address is left on their rows or customers.
    const [left] = await s.sql<{ n: number }[]>`
      select count(*)::int as n from customers where id = any(${victims}::bigint[]) and email is not null`;
    expect(left!.n).toBe(0);
    expect(stopped + rows.filter((r) => r.status === 'sent').length).toBe(20);
    figure('erasure while sending', {
      erased: 20,
      stopped_before_smtp: stopped,
      sent_and_recorded: 20 - stopped,
    });
  });
});
