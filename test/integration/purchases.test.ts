import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let customerId: number;
beforeAll(async () => {
  h = await createHarness();
  customerId = (await json(await h.post('/v1/customers', { external_id: 'p-1', email: 'p1@example.com' })))
    .id;
});
afterAll(async () => h.close());

const line = (n: number, extra: Record<string, unknown> = {}) => ({
  external_line_id: `L-${n}`,
  customer_external_id: 'p-1',
  order_ref: `O-${Math.ceil(n / 2)}`,
  sku: `SKU-${n}`,
  category: n % 2 ? 'shoes' : 'bags',
  quantity: 1,
  amount: 10 * n + 0.5,
  purchased_at: new Date(Date.UTC(2025, 0, n)).toISOString(),
  source: 'shop',
  ...extra,
});

describe('POST /v1/purchases', () => {
  it('records lines idempotently: a re-post changes nothing and says which were present', async () => {
    const first = await h.post('/v1/purchases', [line(1), line(2)]);
    expect(first.status).toBe(201);
    expect(await json(first)).toMatchObject({ created: 2, existing: 0 });

    const again = await h.post('/v1/purchases', [line(1), line(2), line(3)]);
    expect(again.status).toBe(201);
    const body = await json(again);
    expect(body).toMatchObject({ created: 1, existing: 2 });
    expect(body.data.map((d: { status: string }) => d.status)).toEqual(['existing', 'existing', 'created']);

    const same = await h.post('/v1/purchases', line(3));
    expect(same.status).toBe(200);
    expect(await json(same)).toMatchObject({ created: 0, existing: 1 });

    const rows = await h.db.sql`select count(*)::int as n from purchases`;
    expect(rows[0]!.n).toBe(3);
    // The timeline shows each line once, however often it was posted.
    const timeline = await json(await h.get(`/v1/customers/${customerId}/timeline?kinds=purchase`));
    expect(timeline.data.map((e: { kind: string }) => e.kind)).toEqual(['purchase', 'purchase', 'purchase']);
  });

  it('accepts customer_id, defaults currency and quantity, keeps amounts exact', async () => {
    const res = await h.post('/v1/purchases', {
      external_line_id: 'L-id',
      customer_id: customerId,
      amount: 19.99,
      purchased_at: '2025-02-01T10:00:00+01:00',
    });
    expect(res.status).toBe(201);
    const [row] = await h.db
      .sql`select quantity, amount, currency, purchased_at from purchases where external_line_id = 'L-id'`;
    expect(row).toMatchObject({ quantity: 1, amount: 19.99, currency: 'EUR' });
    expect((row!.purchased_at as Date).toISOString()).toBe('2025-02-01T09:00:00.000Z');
  });

  it('rejects bad lines by index, writing nothing', async () => {
    const [{ n: before }] = (await h.db.sql`select count(*)::int as n from purchases`) as unknown as [
      { n: number },
    ];
    const future = new Date(Date.now() + 3600_000).toISOString();
    const res = await h.post('/v1/purchases', [
      line(10),
      line(11, { quantity: 0 }),
      line(12, { currency: 'XYZ' }),
      line(13, { customer_external_id: 'nobody' }),
      line(14, { purchased_at: future }),
      line(10),
      line(15, { customer_id: customerId }),
    ]);
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.errors.map((e: { path: string }) => e.path)).toEqual([
      '1.quantity',
      '2.currency',
      '3.customer_external_id',
      '4.purchased_at',
      '5.external_line_id',
      '6.customer_external_id',
    ]);
    const [{ n: after }] = (await h.db.sql`select count(*)::int as n from purchases`) as unknown as [
      { n: number },
    ];
    expect(after).toBe(before);
  });

  it('only integrators and admins push purchases', async () => {
    expect((await h.post('/v1/purchases', line(20), { role: 'sales' })).status).toBe(403);
    expect((await h.post('/v1/purchases', line(20), { role: 'integrator' })).status).toBe(201);
  });
});

describe('GET /v1/customers/{id}/purchases', () => {
  it('pages newest first', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.get(
        `/v1/customers/${customerId}/purchases?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      const body = await json(res);
      all.push(...body.data.map((p: { purchased_at: string }) => p.purchased_at));
      cursor = body.next_cursor;
    } while (cursor);
    expect(all.length).toBe(5);
    expect(all).toEqual([...all].sort().reverse());
    expect((await h.get('/v1/customers/999999/purchases')).status).toBe(404);
    expect((await h.get(`/v1/customers/${customerId}/purchases`, { role: 'analyst' })).status).toBe(403);
  });
});
