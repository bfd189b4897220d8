import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCampaign } from '../../src/campaigns/plan.js';
import { batchJobId } from '../../src/messages/send-jobs.js';
import { jobLiveness } from '../../src/queue/job-liveness.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('job liveness without scanning the lists', () => {
  it('tells waiting, delayed, prioritized, active, completed, failed and missing jobs apart', async () => {
    const name = 'liveness';
    const q = h.dispatcher.queue(name);
    const redis = h.deps.redis!;
    // A long wait list in front: the answer must not depend on where a job sits in it.
    await q.addBulk(
      Array.from({ length: 500 }, (_, i) => ({ name: 'x', data: { i }, opts: { jobId: `w${i}` } })),
    );
    await q.add('x', {}, { jobId: 'later', delay: 3_600_000 });
    await q.add('x', {}, { jobId: 'urgent', priority: 5 });
    const worker = new Worker(name, null, { connection: redis, prefix: h.queuePrefix, autorun: false });
    try {
      const token = 'test-token';
      // Jobs leave the wait list in order: take three and settle two of them.
      const active = await worker.getNextJob(token);
      const completed = await worker.getNextJob(token);
      const failed = await worker.getNextJob(token);
      await completed!.moveToCompleted('ok', token, false);
      await failed!.moveToFailed(new Error('boom'), token, false);
      // A remnant: a few fields written back into a job Redis had lost.
      await redis.hset(q.toKey('remnant'), 'returnvalue', '1', 'finishedOn', '1');
      const ids = [active!.id!, completed!.id!, failed!.id!, 'w499', 'later', 'urgent', 'remnant', 'gone'];
      expect(await jobLiveness(redis, q, ids)).toEqual([
        'active',
        'finished',
        'finished',
        'waiting',
        'delayed',
        'prioritized',
        'missing',
        'missing',
      ]);
      // A hash that outlived a wipe outside every list: old enough to be looked up exactly.
      await redis.lrem(q.keys.wait as string, 0, 'w400');
      expect(await jobLiveness(redis, q, ['w400', 'w401'], { now: Date.now() + 3_600_000 })).toEqual([
        'missing',
        'waiting',
      ]);
      // Many at once are found by reading the lists once: the same answers.
      const lost = Array.from({ length: 20 }, (_, i) => `w${300 + i}`);
      const kept = Array.from({ length: 20 }, (_, i) => `w${320 + i}`);
      for (const id of lost) await redis.lrem(q.keys.wait as string, 0, id);
      expect(await jobLiveness(redis, q, [...lost, ...kept], { now: Date.now() + 3_600_000 })).toEqual([
        ...lost.map(() => 'missing'),
        ...kept.map(() => 'waiting'),
      ]);
      // The dispatcher removes what will never run, so that the id can be added again.
      expect(await h.dispatcher.missing!(name, ['w400', 'w401', completed!.id!, 'remnant', 'gone'])).toEqual([
        completed!.id!,
        'remnant',
        'gone',
      ]);
      expect(await redis.exists(q.toKey(completed!.id!), q.toKey('remnant'))).toBe(0);
    } finally {
      await worker.close();
    }
  });

  it('lets the reconciler re-create a batch job Redis lost, and only that one', async () => {
    const shop = await seedCampaignShop(h.db.sql, 30, h.deps.config.OFFERFLOW_SECRET);
    const created = await json(
      await h.post('/v1/campaigns', {
        name: 'Lost job',
        segment_id: shop.segmentId,
        template_id: shop.templateId,
        from: { address: 'offers@shop.example', name: 'Shop' },
      }),
    );
    expect((await h.post(`/v1/campaigns/${created.id}/launch`)).status).toBe(200);
    // Batches of 10 rows: several jobs, of which one is lost.
    const deps = {
      sql: h.db.sql,
      config: h.deps.config,
      jobs: h.dispatcher,
      clock: () => new Date(),
      sendBatch: 10,
    };
    await planCampaign(deps, created.id);
    const rows = await h.db.sql<{ id: number }[]>`
      select id from messages where campaign_id = ${created.id} and status = 'queued' order by id`;
    expect(rows.length).toBe(shop.eligible.size);
    const send = h.dispatcher.queue('send');
    const batches = Array.from({ length: Math.ceil(rows.length / 10) }, (_, i) =>
      batchJobId(rows.slice(i * 10, i * 10 + 10).map((r) => r.id)),
    );
    expect(batches.length).toBeGreaterThan(1);
    const lost = batches[0]!;
    await send.remove(lost);
    // Idle long enough for the reconciler to look at every row.
    await h.db.sql`
      update messages set updated_at = now() - interval '1 hour', enqueued_at = now() - interval '1 hour'
      where campaign_id = ${created.id}`;
    const result = await reconcile({ ...deps, idleSeconds: 30 });
    expect(result.enqueued).toBe(10);
    expect(await send.getJobState(lost)).toBe('waiting');
    const states = await jobLiveness(h.deps.redis!, send, batches);
    expect(states.every((s) => s === 'waiting')).toBe(true);
  });
});
