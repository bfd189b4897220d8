import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { ensureRedisCluster } from '../../src/dev/redis-cluster.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { createRedis, everyMaster, isCluster, usedMemoryBytes } from '../../src/queue/connection.js';
import { QUEUES } from '../../src/queue/queues.js';
import { flushTrackingEvents } from '../../src/tracking/event-buffer.js';
import { TRIGGER_SCAN_SCHEDULE, TRIGGER_SCAN_SCHEDULER } from '../../workers/trigger.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// The whole pipeline on a real Redis Cluster of three masters (started by the slow suite's
// setup, src/dev/redis-cluster.ts): the API, the planner, senders, reconciler and trigger worker
// all on a `redis+cluster://` REDIS_URL with a hash-tagged QUEUE_PREFIX, as docs/operations.md
// tells operators. A campaign, clicks through the tracking path and their flush, then purchases
// firing a trigger: every recipient gets exactly one mail of each. Then the trigger worker's
// scheduled scan (a BullMQ job scheduler) fires a birthday trigger through the cluster.

const CUSTOMERS = 400;
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
let clusterUrl: string;
const prefix = `{cl_${randomBytes(4).toString('hex')}}`;

beforeAll(async () => {
  clusterUrl = await ensureRedisCluster();
  h = await createHarness({}, { redisUrl: clusterUrl, queuePrefix: prefix });
  shop = await seedCampaignShop(h.db.sql, CUSTOMERS, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: WORKER_ROLES,
    env: {
      QUEUE_PREFIX: prefix,
      RECONCILE_INTERVAL_MS: '500',
      RECONCILE_IDLE_SECONDS: '3',
      WORKER_LOCK_MS: '5000',
      SEND_CONCURRENCY: '20',
      // A window smaller than the audience, so top-ups run on the cluster too.
      SEND_WINDOW: '100',
    },
    logger: h.deps.logger,
  });
}, 120_000);
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

/** Mails the sink accepted, counted per recipient, for those whose head matches `header`. */
function countsBy(header: RegExp): Map<string, number> {
  const counts = new Map<string, number>();
  for (const raw of sink.messages) {
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('utf8');
    if (!header.test(head)) continue;
    const to = /^To: (.+)$/m.exec(head)![1]!.trim();
    counts.set(to, (counts.get(to) ?? 0) + 1);
  }
  return counts;
}

describe('Redis Cluster', () => {
  it('the API and workers run on the cluster client', () => {
    expect(isCluster(h.deps.redis!)).toBe(true);
  });

  it('a campaign, its tracked clicks and the purchase trigger they lead to: one mail each', async () => {
    // The trigger first, so the purchases below fire it.
    const [thanks] = await h.db.sql<{ id: number }[]>`
      select id from templates where name ilike '%post-purchase%' limit 1`;
    const trigger = await h.post('/v1/triggers', {
      name: 'Thank you',
      event: 'purchase',
      template_id: thanks!.id,
      offers_per_email: 1,
    });
    expect(trigger.status).toBe(201);
    const triggerId = (await json(trigger)).id as number;

    const created = await h.post('/v1/campaigns', {
      name: 'on a cluster',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 2,
      from: { address: 'offers@shop.example' },
    });
    const campaignId = (await json(created)).id as number;
    expect((await h.post(`/v1/campaigns/${campaignId}/launch`)).status).toBe(200);
    const campaign = await until(async () => {
      const c = await json(await h.get(`/v1/campaigns/${campaignId}`));
      return c.status === 'sent' && c;
    }, 180_000);
    expect(campaign.progress.counts).toMatchObject({
      sent: shop.eligible.size,
      suppressed: shop.suppressed.size,
      failed: 0,
    });
    const sent = countsBy(new RegExp(`^X-Offerflow-Campaign: ${campaignId}$`, 'm'));
    expect(sent.size).toBe(shop.eligible.size);
    expect([...sent.values()].filter((n) => n !== 1)).toEqual([]);

    // A tenth of the recipients click their first offer, through the public tracking path.
    const clicked = new Map<string, string>();
    for (const raw of sink.messages) {
      if (clicked.size >= Math.ceil(shop.eligible.size / 10)) break;
      const mail = await simpleParser(raw);
      const link = /href="[^"]*(\/t\/c\/[^"?]+)/.exec(mail.html || '')?.[1];
      const to = (mail.to as { text: string }).text;
      if (link && !clicked.has(to)) clicked.set(to, link);
    }
    expect(clicked.size).toBeGreaterThan(0);
    // Clicks within seconds of delivery are taken for link scanners: these came a minute later.
    await h.db.sql`
      update messages set sent_at = sent_at - interval '1 minute' where campaign_id = ${campaignId}`;
    for (const path of clicked.values()) {
      const res = await h.get(path, { role: null, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux)' } });
      expect(res.status).toBe(302);
    }
    await flushTrackingEvents(h.deps);
    const [clicks] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from contact_events where kind = 'clicked' and not machine and campaign_id = ${campaignId}`;
    expect(clicks!.n).toBe(clicked.size);

    // Each of them buys: the purchase trigger mails them once, through the trigger queue.
    const ids = new Map([...shop.eligible].map(([id, c]) => [c.email, id]));
    for (const [email, i] of [...clicked.keys()].map((e, k) => [e, k] as const)) {
      const res = await h.post('/v1/purchases', {
        external_line_id: `cluster-${i}`,
        customer_id: ids.get(email),
        order_ref: `C-${i}`,
        amount: 42,
        purchased_at: new Date().toISOString(),
      });
      expect(res.status).toBe(201);
    }
    await until(async () => {
      const [row] = await h.db.sql<{ n: number }[]>`
        select count(*)::int as n from messages where trigger_id = ${triggerId} and status = 'sent'`;
      return row!.n === clicked.size;
    }, 120_000);
    const thanked = countsBy(new RegExp(`^X-Offerflow-Trigger: ${triggerId}$`, 'm'));
    expect([...thanked.keys()].sort()).toEqual([...clicked.keys()].sort());
    expect([...thanked.values()].filter((n) => n !== 1)).toEqual([]);
    // The clicks the purchases followed are their conversions.
    const [conversions] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from contact_events where kind = 'converted' and campaign_id = ${campaignId}`;
    expect(conversions!.n).toBe(clicked.size);
  });

  it('the trigger scan scheduled on the cluster fires a birthday trigger: one mail each', async () => {
    const [birthdayTemplate] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
    const created = await h.post('/v1/triggers', {
      name: 'Happy birthday',
      event: 'birthday',
      template_id: birthdayTemplate!.id,
      offers_per_email: 1,
    });
    expect(created.status).toBe(201);
    const triggerId = (await json(created)).id as number;
    // Five eligible customers are born today (UTC); nobody else is.
    const today = new Date().toISOString().slice(5, 10);
    const born = [...shop.eligible.keys()].slice(0, 5);
    await h.db.sql`update customers set birth_date = null`;
    await h.db.sql`
      update customers set birth_date = ${`1990-${today}`}::date, timezone = 'UTC'
      where id = any(${born}::bigint[])`;
    // The scheduler as a trigger worker leaves it, made anew by one that starts now: a job
    // scheduler with `every` runs its first scan at once, through the cluster's trigger queue.
    const queue = new Queue(QUEUES.trigger, { connection: h.deps.redis!, prefix });
    const scanner = await (async () => {
      try {
        await queue.removeJobScheduler(TRIGGER_SCAN_SCHEDULER);
        return await startWorkers({
          config: { ...h.deps.config, DATABASE_URL: h.db.url },
          roles: ['trigger'],
          env: { QUEUE_PREFIX: prefix, WORKER_LOCK_MS: '5000' },
          logger: h.deps.logger,
        });
      } catch (error) {
        await queue.close();
        throw error;
      }
    })();
    try {
      const scheduler = await queue.getJobScheduler(TRIGGER_SCAN_SCHEDULER);
      expect(Number(scheduler?.every)).toBe(TRIGGER_SCAN_SCHEDULE.every);
      await until(async () => {
        const [row] = await h.db.sql<{ n: number }[]>`
          select count(*)::int as n from messages where trigger_id = ${triggerId} and status = 'sent'`;
        return row!.n === born.length;
      }, 120_000);
    } finally {
      await scanner.close();
      await queue.close();
    }
    const wished = countsBy(new RegExp(`^X-Offerflow-Trigger: ${triggerId}$`, 'm'));
    const emails = born.map((id) => shop.eligible.get(id)!.email).sort();
    expect([...wished.keys()].sort()).toEqual(emails);
    expect([...wished.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('Redis memory is read from every master and summed', async () => {
    const redis = h.deps.redis!;
    const masters = await everyMaster(redis);
    expect(masters).toHaveLength(3);
    const each = await Promise.all(
      masters.map(async (m) => Number(/used_memory:(\d+)/.exec(await m.info('memory'))![1])),
    );
    const total = await usedMemoryBytes(redis);
    // Each master uses a megabyte or so of its own; the sum is of all three, not of one.
    expect(total).toBeGreaterThan(Math.max(...each) + Math.min(...each));
  });

  it('workers refuse a prefix without a hash tag on a cluster, saying why', async () => {
    await expect(
      startWorkers({
        config: { ...h.deps.config, DATABASE_URL: h.db.url },
        roles: ['sender'],
        env: { QUEUE_PREFIX: 'offerflow' },
        logger: h.deps.logger,
      }),
    ).rejects.toThrow(/QUEUE_PREFIX "offerflow" has no hash tag.*QUEUE_PREFIX=\{offerflow\}/);
    // A plain Redis takes any prefix.
    const plain = createRedis('redis://127.0.0.1:6379');
    expect(isCluster(plain)).toBe(false);
    plain.disconnect();
  });
});
