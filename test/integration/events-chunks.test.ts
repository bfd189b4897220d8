import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// A large batch is validated and written in chunks (src/events/ingest.ts), the writes of one
// overlapping the validation of the next: the batch must still be one all-or-nothing write.
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

// The largest batch: two chunks of 5,000.
const ROWS = 10_000;
const track = (i: number, prefix: string) => ({
  type: 'track',
  event: i % 2 ? 'cart_updated' : 'product_viewed',
  userId: `${prefix}-${i % 300}`,
  messageId: `${prefix}-m-${i}`,
  timestamp: new Date(Date.UTC(2026, 0, 10) + i).toISOString(),
  properties: { n: i },
});

describe('POST /v1/events with batches larger than a chunk', () => {
  it('stores a batch spanning several chunks once, in order, with a repeat across chunks answered from its first row', async () => {
    const batch: Record<string, unknown>[] = Array.from({ length: ROWS }, (_, i) => track(i, 'big'));
    // The last row repeats the first one's messageId; one row is found by email.
    batch[ROWS - 1] = { ...batch[ROWS - 1], messageId: 'big-m-0' };
    batch[ROWS - 2] = { ...batch[ROWS - 2], userId: undefined, email: 'chunk-lead@example.test' };
    const res = await h.post('/v1/events', batch, { role: 'integrator' });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ created: ROWS - 1, existing: 1, leads_created: 301 });
    const ids: number[] = body.data.map((d: { event_id: number }) => d.event_id);
    expect(body.data[ROWS - 1]).toMatchObject({ status: 'existing', event_id: ids[0] });
    // Event ids follow the batch's order across chunks.
    const fresh = ids.slice(0, ROWS - 1);
    expect(fresh).toEqual([...fresh].sort((a, b) => a - b));
    const again = await json(await h.post('/v1/events', batch, { role: 'integrator' }));
    expect(again).toMatchObject({ created: 0, existing: ROWS, leads_created: 0 });
    expect(again.data.map((d: { event_id: number }) => d.event_id)).toEqual(ids);
    const [{ n }] = (await h.db
      .sql`select count(*)::int as n from events where message_id like 'big-m-%'`) as [{ n: number }];
    expect(n).toBe(ROWS - 1);
    const types = await json(await h.get('/v1/event-types/cart_updated'));
    // Row ROWS - 1 (a cart_updated) was the repeat.
    expect(types.count).toBe(ROWS / 2 - 1);
  });

  it('refuses the whole batch for one bad row in its last chunk, writing nothing from the earlier ones', async () => {
    const batch: Record<string, unknown>[] = Array.from({ length: ROWS }, (_, i) => track(i, 'bad'));
    batch[ROWS - 1] = { ...batch[ROWS - 1], timestamp: 'yesterday' };
    batch[10] = { ...batch[10], event: ' padded ' };
    const res = await h.post('/v1/events', batch, { role: 'integrator' });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(res);
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual([
      '10.event',
      `${ROWS - 1}.timestamp`,
    ]);
    expect(await h.db.sql`select 1 from events where message_id like 'bad-m-%'`).toHaveLength(0);
    expect(await h.db.sql`select 1 from customers where external_id like 'bad-%'`).toHaveLength(0);
  });
});
