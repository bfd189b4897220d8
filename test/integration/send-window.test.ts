import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

const WINDOW = 40;
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 400, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['planner', 'sender', 'reconciler'],
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      SEND_WINDOW: String(WINDOW),
      RECONCILE_INTERVAL_MS: '500',
      SEND_CONCURRENCY: '10',
      WORKER_LOCK_MS: '5000',
      JOB_STALE_MS: '2000',
    },
    logger: h.deps.logger,
  });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const launch = async (name: string) => {
  const created = await json(
    await h.post('/v1/campaigns', {
      name,
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      from: { address: 'offers@shop.example', name: 'Shop' },
    }),
  );
  expect((await h.post(`/v1/campaigns/${created.id}/launch`)).status).toBe(200);
  return created.id as number;
};

/** Mails of a campaign in the sink, by Message-ID. */
const sentIds = (campaignId: number) =>
  sink.messages
    .map((raw) => raw.toString())
    .filter((text) => text.includes(`X-Offerflow-Campaign: ${campaignId}\r\n`))
    .map((text) => /^Message-ID: (.+)$/im.exec(text)?.[1]?.trim());

const sent = async (campaignId: number) => {
  const [row] = await h.db.sql<{ status: string }[]>`select status from campaigns where id = ${campaignId}`;
  return row?.status === 'sent';
};

/** After a loss mid-campaign: the campaign finishes unattended, each eligible customer mailed once. */
const expectEveryoneOnce = async (id: number) => {
  expect(sentIds(id).length).toBeLessThan(shop.eligible.size);
  await until(() => sent(id), 90_000);
  await new Promise((r) => setTimeout(r, 300));
  const ids = sentIds(id);
  expect(new Set(ids).size).toBe(shop.eligible.size);
  expect(ids).toHaveLength(shop.eligible.size);
};

describe('send window', () => {
  it('sends a campaign larger than the window completely, never holding more jobs than the window', async () => {
    const send = h.dispatcher.queue('send');
    const id = await launch('Windowed');
    let peak = 0;
    let samples = 0;
    await until(async () => {
      const counts = await send.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
      peak = Math.max(
        peak,
        Object.values(counts).reduce((a, b) => a + b, 0),
      );
      samples += 1;
      return sent(id);
    }, 60_000);
    expect(samples).toBeGreaterThan(3);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(WINDOW);
    const ids = sentIds(id);
    expect(ids).toHaveLength(shop.eligible.size);
    expect(new Set(ids).size).toBe(shop.eligible.size);
  });

  it('still sends everyone exactly once when Redis loses the wait list but keeps the jobs', async () => {
    const id = await launch('Listless');
    const redis = h.deps.redis!;
    await until(async () => sentIds(id).length > 50 && sentIds(id).length);
    // A partial loss: the jobs' hashes survive outside every list, so adding them again is a
    // no-op until they are found dead and removed.
    await redis.del(`${h.queuePrefix}:send:wait`);
    await expectEveryoneOnce(id);
  }, 120_000);

  it('still sends everyone exactly once when Redis loses every key mid-campaign', async () => {
    const id = await launch('Wiped');
    const redis = h.deps.redis!;
    await until(async () => sentIds(id).length > 50 && sentIds(id).length);
    // The whole prefix (queues, jobs, the window), as a flush would, without touching other tests.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.queuePrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await expectEveryoneOnce(id);
  }, 120_000);
});
