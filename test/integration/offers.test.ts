import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOfferImpressions } from '../../src/offers/impressions.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);

let h: Harness;
let customerId: number;

beforeAll(async () => {
  h = await createHarness({ clock: () => NOW });
  const sql = h.db.sql;
  await sql`insert into attributes (key, type, sensitive, purpose) values ('diagnosis', 'string', true, 'health')`;
  const [c] = await sql<{ id: number }[]>`
    insert into customers (external_id, email, preferred_categories, attributes)
    values ('c-1', 'ann@example.com', '{garden}', '{"diagnosis": "asthma"}') returning id`;
  customerId = c!.id;
  await sql`
    insert into purchases (external_line_id, customer_id, category, amount, purchased_at) values
      ('l1', ${customerId}, 'garden', 120, ${daysAgo(40)}),
      ('l2', ${customerId}, 'garden', 80, ${daysAgo(35)}),
      ('l3', ${customerId}, 'wine', 30, ${daysAgo(2)})`;
});
afterAll(async () => h.close());

const offer = (over: Record<string, unknown> = {}) => ({
  name: 'Garden -20%',
  title: '20% off garden tools',
  text: 'This week only',
  image_url: 'https://shop.example/img/garden.png',
  url: 'https://shop.example/garden',
  code: 'GARDEN20',
  category: 'garden',
  ...over,
});

async function create(body: Record<string, unknown>) {
  const res = await h.post('/v1/offers', body);
  expect(res.status).toBe(201);
  return json(res);
}

describe('offer catalogue', () => {
  it('creates, reads, lists, changes and deletes an offer', async () => {
    const created = await create(
      offer({
        eligibility: { '>': [{ var: 'total_spent' }, 100] },
        score: { var: ['spend_by_category.garden', 0] },
        valid_from: '2026-01-01T00:00:00Z',
        valid_to: '2027-01-01T00:00:00Z',
        cap_per_customer: { count: 2, days: 7 },
        global_cap: 1000,
        exclude_if_bought_within_days: 14,
      }),
    );
    expect(created).toMatchObject({
      name: 'Garden -20%',
      category: 'garden',
      priority: 0,
      cap_per_customer: { count: 2, days: 7 },
      global_cap: 1000,
      shown_count: 0,
      fallback: false,
      version: 1,
      valid_from: '2026-01-01T00:00:00.000Z',
    });
    const got = await json(await h.get(`/v1/offers/${created.id}`));
    expect(got).toEqual(created);

    const patched = await h.patch(`/v1/offers/${created.id}`, {
      priority: 3,
      cap_per_customer: null,
      code: null,
    });
    expect(patched.status).toBe(200);
    const after = await json(patched);
    expect(after).toMatchObject({
      priority: 3,
      cap_per_customer: null,
      code: null,
      version: 2,
      global_cap: 1000,
    });
    expect(after.eligibility).toEqual(created.eligibility);
    expect(after.score).toEqual(created.score);
    const cleared = await json(await h.patch(`/v1/offers/${created.id}`, { eligibility: null }));
    expect(cleared).toMatchObject({ eligibility: null, score: created.score, version: 3 });

    const del = await h.delete(`/v1/offers/${created.id}`);
    expect(del.status).toBe(204);
    expect((await h.get(`/v1/offers/${created.id}`)).status).toBe(404);
    expect((await h.delete(`/v1/offers/${created.id}`)).status).toBe(404);
  });

  it('pages the list and filters by category', async () => {
    const a = await create(offer({ name: 'p1', category: 'paging' }));
    const b = await create(offer({ name: 'p2', category: 'paging' }));
    const c = await create(offer({ name: 'p3', category: 'paging' }));
    const first = await json(await h.get('/v1/offers?category=paging&limit=2'));
    expect(first.data.map((o: { id: number }) => o.id)).toEqual([a.id, b.id]);
    const second = await json(await h.get(`/v1/offers?category=paging&limit=2&cursor=${first.next_cursor}`));
    expect(second.data.map((o: { id: number }) => o.id)).toEqual([c.id]);
    expect(second.next_cursor).toBeNull();
    for (const o of [a, b, c]) await h.delete(`/v1/offers/${o.id}`);
  });

  it.each([
    ['an unknown rule operator', { eligibility: { nope: [1] } }, /^eligibility/],
    ['a score that is a comparison', { score: { '>': [{ var: 'total_spent' }, 1] } }, /^score/],
    ['a score that is a string', { score: 'high' }, /^score$/],
    [
      'a window that ends before it starts',
      { valid_from: '2026-02-01T00:00:00Z', valid_to: '2026-01-01T00:00:00Z' },
      /^valid_to$/,
    ],
    [
      'a negative per-customer cap',
      { cap_per_customer: { count: -1, days: 7 } },
      /^cap_per_customer\.count$/,
    ],
    ['a zero-day cap window', { cap_per_customer: { count: 1, days: 0 } }, /^cap_per_customer\.days$/],
    ['a negative global cap', { global_cap: -5 }, /^global_cap$/],
    ['a negative exclusion', { exclude_if_bought_within_days: -1 }, /^exclude_if_bought_within_days$/],
    ['a javascript: URL', { url: 'javascript:alert(1)' }, /^url$/],
    ['an unknown field', { colour: 'red' }, /^colour$/],
    ['a priority that is a string', { priority: 'high' }, /^priority$/],
  ])('rejects %s with 422 naming the field, writing nothing', async (_what, over, path) => {
    const before = await h.db.sql`select count(*)::int as n from offers`;
    const res = await h.post('/v1/offers', offer(over));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = await json(res);
    expect(body.errors.some((e: { path: string }) => path.test(e.path))).toBe(true);
    const after = await h.db.sql`select count(*)::int as n from offers`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('validates a change against the stored offer and keeps it unchanged on 422', async () => {
    const o = await create(offer({ valid_from: '2026-03-01T00:00:00Z' }));
    const res = await h.patch(`/v1/offers/${o.id}`, { valid_to: '2026-02-01T00:00:00Z' });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].path).toBe('valid_to');
    const bad = await h.patch(`/v1/offers/${o.id}`, { eligibility: { '==': [1] } });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toMatch(/^eligibility/);
    expect(await json(await h.get(`/v1/offers/${o.id}`))).toEqual(o);
    await h.delete(`/v1/offers/${o.id}`);
  });

  it('lets marketers write, analysts read, and no one else write', async () => {
    expect((await h.post('/v1/offers', offer(), { role: 'integrator' })).status).toBe(403);
    expect((await h.post('/v1/offers', offer(), { role: 'analyst' })).status).toBe(403);
    expect((await h.get('/v1/offers', { role: 'analyst' })).status).toBe(200);
    expect((await h.post('/v1/decisions', { customer_id: customerId }, { role: 'analyst' })).status).toBe(
      403,
    );
    const res = await h.post('/v1/offers', offer({ name: 'by marketer' }), { role: 'marketer' });
    expect(res.status).toBe(201);
    await h.delete(`/v1/offers/${(await json(res)).id}`);
  });
});

describe('decisions', () => {
  it('chooses the best offers and explains every one left out', async () => {
    const ids: Record<string, number> = {};
    const add = async (key: string, over: Record<string, unknown>) => {
      ids[key] = (await create(offer({ name: key, title: key, ...over }))).id;
    };
    await add('affinity', { score: { var: ['spend_by_category.garden', 0] } });
    await add('big-spender', { eligibility: { '>': [{ var: 'total_spent' }, 1000] } });
    await add('expired', { valid_from: '2026-01-01T00:00:00Z', valid_to: '2026-02-01T00:00:00Z' });
    await add('wine-again', { category: 'wine', exclude_if_bought_within_days: 7 });
    await add('health', {
      eligibility: {
        and: [{ in: ['health', { var: 'consents' }] }, { '==': [{ var: 'attributes.diagnosis' }, 'asthma'] }],
      },
    });
    await add('bad-score', { score: { var: 'first_name' } });
    await add('priority', { priority: 7, category: 'books' });
    await add('low', { priority: 1, category: 'books' });
    await add('fallback', { fallback: true, category: null });

    const res = await h.post('/v1/decisions', { customer_id: customerId, placements: 3, explain: true });
    expect(res.status).toBe(200);
    const d = await json(res);
    expect(d.customer_id).toBe(customerId);
    expect(d.offers.map((o: { name: string }) => o.name)).toEqual(['affinity', 'priority', 'low']);
    expect(d.offers[0]).toMatchObject({
      offer_id: ids.affinity,
      score: 200,
      title: 'affinity',
      url: 'https://shop.example/garden',
      code: 'GARDEN20',
      category: 'garden',
    });
    const reasons = Object.fromEntries(
      d.excluded.map((x: { name: string; reasons: { code: string }[] }) => [
        x.name,
        x.reasons.map((r) => r.code),
      ]),
    );
    expect(reasons).toMatchObject({
      'big-spender': ['rule_false'],
      expired: ['expired'],
      'wine-again': ['recently_bought'],
      health: ['consent'],
      'bad-score': ['score_error'],
      fallback: ['fallback_not_needed'],
    });
    const healthReason = d.excluded.find((x: { name: string }) => x.name === 'health').reasons[0];
    expect(healthReason.message).toMatch(/diagnosis.*health/);

    // Without explain: the same offers, no explanation.
    const plain = await json(await h.post('/v1/decisions', { customer_id: customerId, placements: 3 }));
    expect(plain.offers).toEqual(d.offers);
    expect(plain.excluded).toBeUndefined();

    // With consent the sensitive rule may run, and it is true for this customer.
    await h.db.sql`insert into consents (customer_id, purpose, granted, source, at)
      values (${customerId}, 'health', true, 'test', ${daysAgo(1)})`;
    const consented = await json(
      await h.post('/v1/decisions', { customer_id: customerId, placements: 9, explain: true }),
    );
    expect(consented.offers.map((o: { name: string }) => o.name)).toContain('health');

    for (const id of Object.values(ids)) await h.delete(`/v1/offers/${id}`);
  });

  it('counts shown offers against per-customer and global caps, once per message', async () => {
    const capped = await create(offer({ name: 'capped', cap_per_customer: { count: 1, days: 7 } }));
    const global = await create(offer({ name: 'global', global_cap: 1, priority: -1 }));
    const first = await json(await h.post('/v1/decisions', { customer_id: customerId, placements: 2 }));
    expect(first.offers.map((o: { name: string }) => o.name)).toEqual(['capped', 'global']);

    for (let i = 0; i < 2; i++) {
      await h.db.sql.begin((tx) =>
        recordOfferImpressions(tx, {
          customer_id: customerId,
          message_id: 9001,
          offer_ids: [capped.id, global.id, capped.id],
          campaign_id: 5,
          at: daysAgo(1),
        }),
      );
    }
    const rows = await h.db
      .sql`select offer_id, campaign_id from offer_impressions where message_id = 9001 order by offer_id`;
    expect(rows.map((r) => r.offer_id)).toEqual([capped.id, global.id]);
    expect((await json(await h.get(`/v1/offers/${global.id}`))).shown_count).toBe(1);

    const after = await json(
      await h.post('/v1/decisions', { customer_id: customerId, placements: 2, explain: true }),
    );
    expect(after.offers).toEqual([]);
    const codes = Object.fromEntries(
      after.excluded.map((x: { name: string; reasons: { code: string }[] }) => [x.name, x.reasons[0]!.code]),
    );
    expect(codes).toEqual({ capped: 'customer_cap', global: 'global_cap' });
    await h.delete(`/v1/offers/${capped.id}`);
    await h.delete(`/v1/offers/${global.id}`);
  });

  it('answers 404 for an unknown customer and 422 for bad placements', async () => {
    expect((await h.post('/v1/decisions', { customer_id: 999_999 })).status).toBe(404);
    const bad = await h.post('/v1/decisions', { customer_id: customerId, placements: 0 });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('placements');
  });
});
