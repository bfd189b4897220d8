import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// Recommendations through the API and the real recommendations worker: co-purchases exclude
// what the customer bought and what is out of stock; replenishment picks whoever is due.

let h: Harness;
let workers: RunningWorkers | undefined;
const ids = new Map<string, number>();
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
let lineNo = 0;
const line = (customer: string, order: string, sku: string, daysAgo: number, amount = 10) => ({
  external_line_id: `L-${++lineNo}`,
  customer_external_id: customer,
  order_ref: order,
  sku,
  amount,
  purchased_at: ago(daysAgo),
});

beforeAll(async () => {
  h = await createHarness();
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url },
    roles: ['recommendations'],
    env: { QUEUE_PREFIX: h.queuePrefix },
    logger: h.deps.logger,
  });
  const products = await h.post('/v1/products', [
    { sku: 'SOFA', title: { en: 'Grey sofa', fr: 'Canapé gris' }, price: 899, category: 'furniture' },
    {
      sku: 'CUSHION',
      title: { en: 'Wool cushion', fr: 'Coussin en laine' },
      price: 29.9,
      category: 'textile',
      stock: 12,
    },
    { sku: 'THROW', title: 'Linen throw', price: 49, category: 'textile', stock: 0 },
    { sku: 'RUG', title: 'Rug', price: 199, category: 'textile', active: false },
    { sku: 'LAMP', title: 'Lamp', price: 59, category: 'lighting' },
    { sku: 'BEANS', title: 'Coffee beans 1 kg', price: 18, category: 'coffee' },
  ]);
  expect(products.status).toBe(201);
  const people = ['sofa-buyer', 'b1', 'b2', 'b3', 'b4', 'due', 'recent', 'once', 'fr'];
  for (const external_id of people) {
    const res = await h.post('/v1/customers', {
      external_id,
      email: `${external_id}@example.com`,
      ...(external_id === 'fr' ? { locale: 'fr-FR' } : {}),
    });
    ids.set(external_id, (await json(res)).id);
  }
  const lines = [
    // Four orders hold the sofa with the cushion, the out-of-stock throw and the inactive rug.
    ...['b1', 'b2', 'b3', 'b4'].flatMap((c) => [
      line(c, `${c}-1`, 'SOFA', 40),
      line(c, `${c}-1`, 'CUSHION', 40),
      line(c, `${c}-1`, 'THROW', 40),
      line(c, `${c}-1`, 'RUG', 40),
    ]),
    line('b1', 'b1-2', 'LAMP', 20),
    line('sofa-buyer', 'sb-1', 'SOFA', 10, 899),
    line('fr', 'fr-1', 'SOFA', 10, 899),
    // Coffee every 30 days or so: "due" last bought 35 days ago, "recent" 2 days ago.
    ...[155, 125, 95, 65, 35].map((d, i) => line('due', `due-${i}`, 'BEANS', d)),
    ...[152, 122, 92, 62, 32, 2].map((d, i) => line('recent', `recent-${i}`, 'BEANS', d)),
    ...[120, 90, 60].map((d, i) => line('b2', `b2-c${i}`, 'BEANS', d)),
    // One purchase only: the interval is the category's, pooled across customers.
    line('once', 'once-1', 'BEANS', 33),
  ];
  const res = await h.post('/v1/purchases', lines);
  expect(res.status).toBe(201);
  // The worker computes every feed; the request only queues it.
  const queued = await h.post('/v1/recommendations/refresh');
  expect(queued.status).toBe(202);
  await until(async () => {
    const [row] = await h.db.sql`select count(*)::int as n from recommendation_runs`;
    return (row!.n as number) >= people.length;
  });
});
afterAll(async () => {
  await workers?.close();
  await h?.close();
});

const feed = async (customer: string, name: string, query = '') => {
  const res = await h.get(`/v1/customers/${ids.get(customer)}/recommendations?feed=${name}${query}`);
  expect(res.status).toBe(200);
  return (await json(res)).data as { sku: string; title: string; price: number; reason: string }[];
};

describe('GET /v1/customers/{id}/recommendations', () => {
  it('gives a sofa buyer the cushion often bought with it, not the sofa again, nothing out of stock', async () => {
    const data = await feed('sofa-buyer', 'bought_together');
    expect(data.map((d) => d.sku)).toEqual(['CUSHION']);
    expect(data[0]).toMatchObject({ title: 'Wool cushion', price: 29.9 });
    expect(data[0]!.reason).toMatch(/^often bought with the Grey sofa you bought on /);
  });

  it('answers in the customer’s language', async () => {
    const [item] = await feed('fr', 'bought_together');
    expect(item).toMatchObject({ sku: 'CUSHION', title: 'Coussin en laine' });
    expect(item!.reason).toContain('Canapé gris');
  });

  it('never shows a product out of stock or inactive, even one that went out of stock since the refresh', async () => {
    for (const name of ['bought_together', 'top_in_category', 'new_arrivals', 'replenish']) {
      for (const customer of ids.keys()) {
        const skus = (await feed(customer, name)).map((d) => d.sku);
        expect(skus).not.toContain('THROW');
        expect(skus).not.toContain('RUG');
      }
    }
    await h.post('/v1/products', {
      sku: 'CUSHION',
      title: { en: 'Wool cushion' },
      price: 29.9,
      category: 'textile',
      stock: 0,
    });
    expect(await feed('sofa-buyer', 'bought_together')).toEqual([]);
    await h.post('/v1/products', {
      sku: 'CUSHION',
      title: { en: 'Wool cushion', fr: 'Coussin en laine' },
      price: 29.9,
      category: 'textile',
      stock: 12,
    });
  });

  it('replenishes whoever’s usual interval has passed, not who just bought', async () => {
    const due = await feed('due', 'replenish');
    expect(due.map((d) => d.sku)).toEqual(['BEANS']);
    expect(due[0]!.reason).toMatch(/^you buy coffee about every \d+ days; last on /);
    expect(await feed('recent', 'replenish')).toEqual([]);
    // A single purchase borrows the pooled interval (about 30 days): 33 days on, it is due.
    expect((await feed('once', 'replenish')).map((d) => d.sku)).toEqual(['BEANS']);
  });

  it('recomputes a customer on demand once they buy again', async () => {
    await h.post('/v1/purchases', line('sofa-buyer', 'sb-2', 'CUSHION', 0.01, 29.9));
    expect(await feed('sofa-buyer', 'bought_together')).toEqual([]);
    const [run] = await h.db
      .sql`select computed_at from recommendation_runs where customer_id = ${ids.get('sofa-buyer')!}`;
    expect((run!.computed_at as Date).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('lets a feed keep what was bought, and refuses bad parameters with 422 naming them', async () => {
    const patched = await h.patch('/v1/recommendations/feeds/bought_together', { exclude_bought: false });
    expect(patched.status).toBe(200);
    await h.post('/v1/recommendations/refresh', { customer_ids: [ids.get('b1')!] });
    expect((await feed('b1', 'bought_together')).map((d) => d.sku)).toContain('CUSHION');
    await h.patch('/v1/recommendations/feeds/bought_together', { exclude_bought: true });

    const bad = await h.get(`/v1/customers/${ids.get('b1')}/recommendations?feed=nope&limit=0`);
    expect(bad.status).toBe(422);
    const paths = (await json(bad)).errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['feed', 'limit']));
    expect((await h.patch('/v1/recommendations/feeds/bought_together', { size: 0 })).status).toBe(422);
    expect((await h.get('/v1/customers/999999/recommendations')).status).toBe(404);
  });
});
