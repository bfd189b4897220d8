import { type ChildProcess, spawn } from 'node:child_process';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planCampaign } from '../../src/campaigns/plan.js';
import { type RunningWorkers, startWorkers, type WorkerRole } from '../../src/cli/queue-workers.js';
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Reliability of the send pipeline against real PostgreSQL, Redis and an smtp-server sink:
// crashes, a wiped Redis, temporary and permanent SMTP failures, concurrent planners.

const CUSTOMERS = 2000;
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink | undefined;
let workers: RunningWorkers | undefined;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, CUSTOMERS, h.deps.config.OFFERFLOW_SECRET);
}, 120_000);
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await workers?.close();
  workers = undefined;
  await sink?.close();
  sink = undefined;
});
afterAll(async () => h?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const baseEnv = () => ({
  QUEUE_PREFIX: h.queuePrefix,
  RECONCILE_INTERVAL_MS: '500',
  RECONCILE_IDLE_SECONDS: '3',
  WORKER_LOCK_MS: '3000',
});

async function start(roles: WorkerRole[], env: Record<string, string> = {}) {
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink!.url },
    roles,
    env: { ...baseEnv(), SEND_CONCURRENCY: '20', ...env },
    logger: h.deps.logger,
  });
}

async function launch(over: Record<string, unknown> = {}): Promise<number> {
  const res = await h.post('/v1/campaigns', {
    name: `reliability ${Date.now()}`,
    segment_id: shop.segmentId,
    template_id: shop.templateId,
    offers_per_email: 2,
    from: { address: 'offers@shop.example' },
    ...over,
  });
  const { id } = await json(res);
  expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
  return id;
}

async function waitSent(id: number, timeoutMs = 180_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const campaign = await json(await h.get(`/v1/campaigns/${id}`));
    if (campaign.status === 'sent') return campaign;
    if (Date.now() > deadline)
      throw new Error(`campaign ${id} not sent: ${JSON.stringify(campaign.progress)}`);
    await sleep(250);
  }
}

/** Mails accepted by the sink for a campaign, counted per recipient address. */
function deliveries(raws: Buffer[], campaignId: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const raw of raws) {
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('utf8');
    if (!new RegExp(`^X-Offerflow-Campaign: ${campaignId}$`, 'm').test(head)) continue;
    const to = /^To: (.+)$/m.exec(head)![1]!.trim();
    counts.set(to, (counts.get(to) ?? 0) + 1);
  }
  return counts;
}

function spawnSender(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', 'sender'], {
    env: {
      ...process.env,
      ...baseEnv(),
      DATABASE_URL: h.db.url,
      SMTP_URL: sink!.url,
      SEND_CONCURRENCY: '10',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

describe('campaign reliability', () => {
  it('2,000 customers: each eligible one gets exactly one email with their name, offers and headers', async () => {
    sink = await startSmtpSink({ keepInMemory: true });
    await start(['planner', 'sender', 'reconciler']);
    const id = await launch();
    const campaign = await waitSent(id);
    expect(campaign.progress.counts).toMatchObject({
      sent: shop.eligible.size,
      suppressed: shop.suppressed.size,
      failed: 0,
    });
    const counts = deliveries(sink.messages, id);
    expect(counts.size).toBe(shop.eligible.size);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const rows = await h.db.sql<{ id: number; customer_id: number; offer_ids: number[] }[]>`
      select id, customer_id, offer_ids from messages where campaign_id = ${id} and status = 'sent'`;
    const byCustomer = new Map(rows.map((r) => [r.customer_id, r]));
    const titles = new Map(
      (await h.db.sql<{ id: number; title: string }[]>`select id, title from offers`).map((o) => [
        o.id,
        o.title,
      ]),
    );
    const byEmail = new Map([...shop.eligible].map(([customerId, c]) => [c.email, { customerId, ...c }]));
    for (const raw of sink.messages) {
      const mail = await simpleParser(raw);
      const { customerId, ...who } = byEmail.get((mail.to as { text: string }).text)!;
      const row = byCustomer.get(customerId)!;
      expect(mail.messageId).toMatch(new RegExp(`^<m${row.id}\\.c${id}\\.\\w+@shop\\.example>$`));
      expect(mail.text).toContain(who.first_name);
      for (const offer of row.offer_ids) expect(mail.text).toContain(titles.get(offer)!);
      expect(
        mail.headerLines.some((l) => l.line === 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'),
      ).toBe(true);
      expect(mail.headerLines.some((l) => l.key === 'list-unsubscribe' && /mailto:/.test(l.line))).toBe(true);
    }
  });

  it('sender processes killed at random points: nobody skipped, duplicates within the in-flight window', async () => {
    sink = await startSmtpSink({ keepInMemory: true });
    await start(['planner', 'reconciler']);
    let sender = spawnSender();
    const id = await launch({ throttle_per_second: 250 });
    let kills = 0;
    for (let i = 0; i < 3; i++) {
      await sleep(2500 + Math.random() * 2000);
      sender.kill('SIGKILL');
      kills += 1;
      await sleep(200);
      sender = spawnSender();
    }
    const campaign = await waitSent(id);
    expect(campaign.progress.counts).toMatchObject({ sent: shop.eligible.size, failed: 0 });
    const counts = deliveries(sink.messages, id);
    expect(counts.size).toBe(shop.eligible.size);
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    // Each kill can lose at most the jobs in flight in that process (SEND_CONCURRENCY = 10).
    expect(duplicates).toBeLessThanOrEqual(kills * 10);
  });

  it('Redis wiped mid-campaign: the reconciler completes it, nobody skipped or sent twice', async () => {
    sink = await startSmtpSink({ keepInMemory: true });
    await start(['planner', 'sender', 'reconciler'], { SEND_CONCURRENCY: '10' });
    const id = await launch({ throttle_per_second: 300 });
    await sleep(3000);
    const sentBefore = (await json(await h.get(`/v1/campaigns/${id}`))).progress.counts.sent;
    expect(sentBefore).toBeLessThan(shop.eligible.size);
    // Only this test's keys: other suites share the Redis.
    let cursor = '0';
    do {
      const [next, keys] = await h.deps.redis!.scan(cursor, 'MATCH', `${h.queuePrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await h.deps.redis!.del(...keys);
    } while (cursor !== '0');
    const campaign = await waitSent(id);
    expect(campaign.progress.counts).toMatchObject({ sent: shop.eligible.size, failed: 0 });
    const counts = deliveries(sink.messages, id);
    expect(counts.size).toBe(shop.eligible.size);
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
  });

  it('a sink answering 451 to 30 % of messages: all delivered exactly once', async () => {
    const refused = new Set<string>();
    let refusals = 0;
    const options: SmtpSinkOptions = {
      keepInMemory: true,
      // The first attempt of about 30 % of the messages, chosen by Message-ID, is refused.
      rejectMessage: (raw) => {
        const mid = /^Message-ID: <m(\d+)\./im.exec(raw.subarray(0, 4096).toString())?.[1] ?? '0';
        if (Number(mid) % 10 < 3 && !refused.has(mid)) {
          refused.add(mid);
          refusals += 1;
          return { code: 451, message: '4.3.0 Try again later' };
        }
        return null;
      },
    };
    sink = await startSmtpSink(options);
    await start(['planner', 'sender', 'reconciler']);
    const id = await launch();
    const campaign = await waitSent(id);
    expect(refusals).toBeGreaterThan(shop.eligible.size * 0.2);
    expect(campaign.progress.counts).toMatchObject({ sent: shop.eligible.size, failed: 0 });
    const counts = deliveries(sink.messages, id);
    expect(counts.size).toBe(shop.eligible.size);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('550 for some addresses: those rows fail with the reply and are suppressed, the rest go', async () => {
    const unknown = (address: string) => /^person\d*3@/.test(address);
    sink = await startSmtpSink({
      keepInMemory: true,
      rejectRecipient: (address) =>
        unknown(address) ? { code: 550, message: '5.1.1 No such user here' } : null,
    });
    await start(['planner', 'sender', 'reconciler']);
    const id = await launch();
    const campaign = await waitSent(id);
    const expectedFailed = [...shop.eligible.values()].filter((c) => unknown(c.email)).length;
    expect(expectedFailed).toBeGreaterThan(0);
    expect(campaign.progress.counts).toMatchObject({
      sent: shop.eligible.size - expectedFailed,
      failed: expectedFailed,
    });
    const failed = await h.db.sql<{ error: string; smtp_reply: string }[]>`
      select error, smtp_reply from messages where campaign_id = ${id} and status = 'failed'`;
    expect(failed.every((f) => /550/.test(f.smtp_reply) && /No such user/.test(f.error))).toBe(true);
    const { n } = (
      await h.db.sql<
        { n: number }[]
      >`select count(*)::int as n from suppressions where reason = 'hard_bounce' and source = 'smtp'`
    )[0]!;
    expect(n).toBe(expectedFailed);
    expect(deliveries(sink.messages, id).size).toBe(shop.eligible.size - expectedFailed);
  });

  it('launching twice or two planners at once yields one row per customer', async () => {
    sink = await startSmtpSink({ keepInMemory: false });
    const { id } = await json(
      await h.post('/v1/campaigns', {
        name: 'twice',
        segment_id: shop.segmentId,
        template_id: shop.templateId,
      }),
    );
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(409);
    const deps = { ...h.deps, jobs: h.dispatcher, pageSize: 300 };
    await Promise.all([planCampaign(deps, id), planCampaign(deps, id), planCampaign(deps, id)]);
    const [row] = await h.db.sql<{ n: number; customers: number }[]>`
      select count(*)::int as n, count(distinct customer_id)::int as customers from messages where campaign_id = ${id}`;
    expect(row).toEqual({ n: CUSTOMERS, customers: CUSTOMERS });
    await h.post(`/v1/campaigns/${id}/cancel`);
  });
});
