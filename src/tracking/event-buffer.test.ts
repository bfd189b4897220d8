import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { EventBuffer } from './event-buffer.js';

let db: TestDatabase;
let customerId: number;
beforeAll(async () => {
  db = await createTestDatabase();
  const [row] = await db.sql<
    { id: number }[]
  >`insert into customers (external_id) values ('buffer') returning id`;
  customerId = row!.id;
});
afterAll(async () => db.drop());

const count = async () =>
  (await db.sql<{ n: number }[]>`select count(*)::int as n from contact_events`)[0]!.n;

describe('EventBuffer', () => {
  it('holds events until a flush, writes them in batches, and flushes when a batch is full', async () => {
    const buffer = new EventBuffer(db.sql, { maxBatch: 3, intervalMs: 60_000 });
    const event = { customer_id: customerId, kind: 'opened', at: new Date() };
    buffer.push(event);
    buffer.push(event);
    expect(buffer.pending).toBe(2);
    expect(await count()).toBe(0);
    buffer.push(event); // the third fills a batch
    await buffer.flush();
    expect(await count()).toBe(3);
    buffer.push(event);
    await buffer.close();
    expect(await count()).toBe(4);
    expect(buffer.written).toBe(4);
  });

  it('drops events of customers deleted meanwhile instead of failing the batch', async () => {
    const buffer = new EventBuffer(db.sql);
    buffer.push({ customer_id: 987_654_321, kind: 'opened', at: new Date() });
    buffer.push({ customer_id: customerId, kind: 'clicked', at: new Date() });
    await buffer.close();
    expect(buffer.pending).toBe(0);
    expect(await db.sql`select 1 from contact_events where kind = 'clicked'`).toHaveLength(1);
  });

  it('bounds memory when the database cannot take events', async () => {
    const broken = new EventBuffer(db.sql, { maxBatch: 1000, maxQueued: 5, intervalMs: 60_000 });
    for (let i = 0; i < 8; i++) broken.push({ customer_id: customerId, kind: 'opened', at: new Date() });
    expect(broken.pending).toBe(5);
    expect(broken.dropped).toBe(3);
  });
});
