import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUploadedImport } from '../../src/imports/run.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { tableSnapshot } from '../helpers/table-snapshot.js';

// A negative purchase amount is only accepted as a refund, said explicitly (`kind: "refund"`),
// through the API and the CSV import alike; refunds are net in spend and in report revenue, and
// are neither orders nor conversions.

let h: Harness;
let customerId: number;
let campaignId: number;
beforeAll(async () => {
  h = await createHarness();
  const sql = h.db.sql;
  const [c] = await sql<{ id: number }[]>`
    insert into customers (external_id, email) values ('rf-c', 'rf@example.com') returning id`;
  customerId = c!.id;
  const [campaign] = await sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('Refunds', 'sent') returning id`;
  campaignId = campaign!.id;
  const [message] = await sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, offer_ids, status, sent_at)
    values (${campaignId}, ${customerId}, '{}', 'sent', now() - interval '2 hours') returning id`;
  await sql`
    insert into contact_events (customer_id, kind, message_id, campaign_id, at)
    values (${customerId}, 'clicked', ${message!.id}, ${campaignId}, now() - interval '1 hour')`;
  await h.keyFor('admin');
});
afterAll(async () => h.close());

const line = (over: Record<string, unknown>) => ({
  customer_external_id: 'rf-c',
  order_ref: 'order-1',
  purchased_at: new Date(Date.now() - 30 * 60_000).toISOString(),
  ...over,
});

describe('refunds through the API', () => {
  it('a negative amount without kind "refund" is a 422 naming the amount, and nothing is written', async () => {
    const before = await tableSnapshot(h.db.sql);
    const res = await h.post('/v1/purchases', [
      line({ external_line_id: 'ok-1', amount: 10 }),
      line({ external_line_id: 'neg-1', amount: -10 }),
      line({ external_line_id: 'neg-2', amount: -10, kind: 'purchase' }),
      line({ external_line_id: 'pos-refund', amount: 10, kind: 'refund' }),
      line({ external_line_id: 'bad-kind', amount: 10, kind: 'return' }),
    ]);
    expect(res.status).toBe(422);
    const problem = await json(res);
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual([
      '1.amount',
      '2.amount',
      '3.amount',
      '4.kind',
    ]);
    expect(await tableSnapshot(h.db.sql)).toEqual(before);
  });

  it('a refund is recorded as such: net spend, not an order, not a conversion; revenue is net', async () => {
    const sale = await h.post(
      '/v1/purchases',
      line({ external_line_id: 'sale-1', amount: 100, category: 'garden' }),
    );
    expect(sale.status).toBe(201);
    const refund = await h.post(
      '/v1/purchases',
      line({ external_line_id: 'refund-1', amount: -40, kind: 'refund', category: 'garden' }),
    );
    expect(refund.status).toBe(201);
    const listed = await json(await h.get(`/v1/customers/${customerId}/purchases`));
    expect(listed.data.map((p: { kind: string; amount: number }) => [p.kind, p.amount])).toEqual(
      expect.arrayContaining([
        ['purchase', 100],
        ['refund', -40],
      ]),
    );
    // The rule context: spend is net, the refund is no second order.
    const context = await json(await h.get(`/v1/customers/${customerId}/context`));
    expect(context).toMatchObject({ total_spent: 60, orders_count: 1, spend_by_category: { garden: 60 } });
    // One conversion, of 100, less the refund of its order.
    const events = await h.db.sql`
      select kind, (data ->> 'revenue')::float8 as revenue from contact_events
      where customer_id = ${customerId} and kind in ('converted', 'refunded') order by id`;
    expect(events).toEqual([
      { kind: 'converted', revenue: 100 },
      { kind: 'refunded', revenue: -40 },
    ]);
    const report = await json(await h.get(`/v1/reports/campaigns/${campaignId}`));
    expect(report.totals).toMatchObject({ conversions: 1, revenue: 60 });
  });
});

describe('refunds in the CSV import', () => {
  it('follows the same rule: a negative amount needs kind refund, else a row error naming amount', async () => {
    const at = new Date(Date.now() - 20 * 60_000).toISOString();
    const csv = [
      'external_line_id,customer_external_id,order_ref,amount,kind,purchased_at',
      `csv-sale,rf-c,order-2,50.00,purchase,${at}`,
      `csv-refund,rf-c,order-2,-20.00,refund,${at}`,
      `csv-neg,rf-c,order-2,-5.00,,${at}`,
      `csv-neg-sale,rf-c,order-2,-5.00,purchase,${at}`,
      `csv-pos-refund,rf-c,order-2,5.00,Refund,${at}`,
      `csv-bad-kind,rf-c,order-2,5.00,avoir,${at}`,
    ].join('\n');
    const res = await h.request('POST', '/v1/imports?kind=purchases&filename=refunds.csv', {
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(202);
    const { id } = await json(res);
    await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, id);
    const [row] = await h.db.sql`select status, rows_created, rows_failed from imports where id = ${id}`;
    expect(row).toMatchObject({ status: 'done', rows_created: 2, rows_failed: 4 });
    const errors = await h.db
      .sql`select line, "column" from import_errors where import_id = ${id} order by line`;
    expect(errors).toEqual([
      { line: 4, column: 'amount' },
      { line: 5, column: 'amount' },
      { line: 6, column: 'amount' },
      { line: 7, column: 'kind' },
    ]);
    const stored = await h.db.sql`
      select external_line_id, kind, amount::float8 as amount from purchases where external_line_id like 'csv-%' order by 1`;
    expect(stored).toEqual([
      { external_line_id: 'csv-refund', kind: 'refund', amount: -20 },
      { external_line_id: 'csv-sale', kind: 'purchase', amount: 50 },
    ]);
    // The imported refund comes off the imported sale's conversion too.
    const report = await json(await h.get(`/v1/reports/campaigns/${campaignId}`));
    expect(report.totals).toMatchObject({ conversions: 1, revenue: 90 });
  });

  it('the database refuses a negative amount that is not a refund', async () => {
    await expect(
      h.db.sql`insert into purchases (external_line_id, customer_id, amount, purchased_at)
               values ('sql-neg', ${customerId}, -1, now())`,
    ).rejects.toMatchObject({ code: '23514' });
  });
});
