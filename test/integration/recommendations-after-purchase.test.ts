import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { REFRESH_DEBOUNCE_MS } from '../../src/products/refresh.js';
import type { BullDispatcher } from '../../src/queue/dispatcher.js';
import { QUEUES } from '../../src/queue/queues.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// A purchase through the API queues a refresh of the buyer's recommendations, run by the real
// recommendations worker: no GET needed (mail rendering reads only stored feeds), and a burst
// of purchases of one customer makes one refresh job.

let h: Harness;
let workers: RunningWorkers | undefined;
const ids = new Map<string, number>();
let lineNo = 0;
const line = (customer: string, order: string, sku: string, daysAgo = 1) => ({
  external_line_id: `P-${++lineNo}`,
  customer_external_id: customer,
  order_ref: order,
  sku,
  amount: 10,
  purchased_at: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
});

const storedFeed = async (customer: string, feed: string) => {
  const [row] = await h.db.sql<{ skus: string[] }[]>`
    select skus from recommendation_lists where customer_id = ${ids.get(customer)!} and feed = ${feed}`;
  // A feed with nothing to show has no row.
  return row?.skus ?? [];
};

const refreshJobsOf = async (customer: string) => {
  const queue = (h.deps.jobs as BullDispatcher).queue(QUEUES.recommendations);
  const jobs = await queue.getJobs(['delayed', 'waiting', 'active', 'prioritized']);
  return jobs.filter((j) => j.id?.startsWith(`refresh-c${ids.get(customer)}-`));
};

beforeAll(async () => {
  h = await createHarness();
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url },
    roles: ['recommendations'],
    env: { QUEUE_PREFIX: h.queuePrefix },
    logger: h.deps.logger,
  });
  expect(
    (
      await h.post('/v1/products', [
        { sku: 'SOFA', title: 'Grey sofa', price: 899, category: 'furniture' },
        { sku: 'CUSHION', title: 'Wool cushion', price: 29.9, category: 'textile' },
        { sku: 'LAMP', title: 'Lamp', price: 59, category: 'lighting' },
      ])
    ).status,
  ).toBe(201);
  for (const external_id of ['b1', 'b2', 'b3', 'buyer']) {
    const res = await h.post('/v1/customers', { external_id, email: `${external_id}@example.com` });
    ids.set(external_id, (await json(res)).id);
  }
  const history = ['b1', 'b2', 'b3'].flatMap((c) => [
    line(c, `${c}-1`, 'SOFA', 30),
    line(c, `${c}-1`, 'CUSHION', 30),
  ]);
  expect((await h.post('/v1/purchases', history)).status).toBe(201);
  // The pairs (sofa ↔ cushion) come from a full refresh, as they would overnight.
  expect((await h.post('/v1/recommendations/refresh')).status).toBe(202);
  await until(async () => {
    const [row] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from recommendation_runs`;
    return row!.n >= ids.size;
  });
  // And the history's own debounced refresh has run: the tests below count the jobs queued.
  await until(async () => (await refreshJobsOf('b1')).length === 0, 20_000);
});
afterAll(async () => {
  await workers?.close();
  await h?.close();
});

describe('POST /v1/purchases', () => {
  it('queues one refresh of the buyer for a burst of purchases, and the worker stores their new feeds', async () => {
    expect(await storedFeed('buyer', 'bought_together')).toEqual([]);
    // Start the burst early in a debounce window so that it stays inside one.
    const into = Date.now() % REFRESH_DEBOUNCE_MS;
    if (into > REFRESH_DEBOUNCE_MS / 3)
      await new Promise((r) => setTimeout(r, REFRESH_DEBOUNCE_MS - into + 20));
    const windows = new Set<number>();
    for (const [i, sku] of ['SOFA', 'LAMP', 'SOFA'].entries()) {
      windows.add(Math.floor(Date.now() / REFRESH_DEBOUNCE_MS));
      const res = await h.post('/v1/purchases', line('buyer', `buyer-${i}`, sku));
      expect(res.status).toBe(201);
      windows.add(Math.floor(Date.now() / REFRESH_DEBOUNCE_MS));
    }
    const queued = await refreshJobsOf('buyer');
    // One job per window the burst touched (one, unless the machine stalled across a boundary).
    expect(queued.length).toBe(windows.size);
    expect(queued[0]!.data).toEqual({ customer_ids: [ids.get('buyer')] });

    // The worker runs it once the window closes: the sofa's cushion, and not the sofa again.
    await until(async () => (await storedFeed('buyer', 'bought_together')).length > 0, 20_000);
    expect(await storedFeed('buyer', 'bought_together')).toEqual(['CUSHION']);
    await until(async () => (await refreshJobsOf('buyer')).length === 0);
  });

  it('queues nothing for lines already recorded, and a bad line still answers 422 naming it', async () => {
    const again = await h.post('/v1/purchases', {
      ...line('b1', 'b1-1', 'SOFA', 30),
      external_line_id: 'P-1',
    });
    expect(again.status).toBe(200);
    expect(await refreshJobsOf('b1')).toEqual([]);
    const bad = await h.post('/v1/purchases', { ...line('b1', 'b1-9', 'SOFA'), amount: 'ten' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors.map((e: { path: string }) => e.path)).toContain('0.amount');
    expect(await refreshJobsOf('b1')).toEqual([]);
  });
});
