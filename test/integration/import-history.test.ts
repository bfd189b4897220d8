import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobDispatcher } from '../../src/deps.js';
import { runUploadedImport } from '../../src/imports/run.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import type { TriggerEvent } from '../../src/triggers/events.js';
import { fireTriggerEvents } from '../../src/triggers/fire.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Imports of real ERP files: history that mails nobody, French headers read as purchases, one
// automation per order.

let h: Harness;
let triggerId: number;
beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  const res = await h.post('/v1/triggers', { name: 'Thank you', event: 'purchase', template_id: t!.id });
  expect(res.status).toBe(201);
  triggerId = (await json(res)).id;
});
afterAll(async () => h.close());

/** Runs an upload as the import worker does, keeping the trigger events it hands on. */
async function runImport(id: number): Promise<TriggerEvent[]> {
  const events: TriggerEvent[] = [];
  const jobs: JobDispatcher = {
    enqueue: async (_queue, requests) => {
      for (const r of requests) events.push(...((r.data as { events: TriggerEvent[] }).events ?? []));
    },
  } as JobDispatcher;
  const progress = await runUploadedImport({ sql: h.db.sql, jobs, clock: () => new Date() }, id);
  expect(progress).not.toBeNull();
  return events;
}

async function buyers(...ids: string[]) {
  for (const id of ids) {
    await h.db.sql`insert into customers (external_id, email) values (${id}, ${`${id}@example.test`})`;
    await h.db.sql`
      insert into consents (customer_id, purpose, granted, source)
      select id, 'marketing_email', true, 'test' from customers where external_id = ${id}`;
  }
}

const messagesOfTrigger = () =>
  h.db.sql<
    { customer_id: number }[]
  >`select customer_id from messages where trigger_id = ${triggerId} order by id`;

const upload = (query: string, csv: string) =>
  h.post(`/v1/imports${query}`, csv, { headers: { 'content-type': 'text/csv' }, role: 'integrator' });
const preview = (query: string, csv: string) =>
  h.post(`/v1/imports/preview${query}`, csv, { headers: { 'content-type': 'text/csv' }, role: 'integrator' });

/** `dd/mm/yyyy hh:mm` in UTC, as a French ERP writes it. */
const french = (d: Date) =>
  `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${d.getUTCFullYear()} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;

describe('importing history', () => {
  const csv = [
    'external_line_id,customer_external_id,order_ref,amount,purchased_at',
    'hist-1,hist-a,H-1,30,2025-03-01T10:00:00Z',
    'hist-2,hist-a,H-1,20,2025-03-01T10:00:00Z',
    'hist-3,hist-b,H-2,15,2025-06-12T09:30:00Z',
  ].join('\n');

  it('fires nothing by default, and the preview says so', async () => {
    await buyers('hist-a', 'hist-b');
    const p = await preview('?kind=purchases', csv);
    expect(p.status).toBe(200);
    expect((await json(p)).triggers).toEqual({
      mode: 'recent',
      max_age_hours: 24,
      orders: 2,
      recent_orders: 0,
      purchase_triggers: 1,
      emails: 0,
      records: 3,
    });
    const res = await upload('?kind=purchases&filename=2025.csv', csv);
    expect(res.status).toBe(202);
    const events = await runImport((await json(res)).id);
    expect(events).toEqual([]);
    expect(await h.db.sql`select 1 from trigger_outbox`).toHaveLength(0);
    const [stored] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from purchases where external_line_id like 'hist-%'`;
    expect(stored!.n).toBe(3);
    expect(await messagesOfTrigger()).toHaveLength(0);
  });

  it('fires for old lines when the import asks for it (triggers=all), once per order', async () => {
    const again = csv.replaceAll('hist-', 'hist-all-');
    await buyers('hist-all-a', 'hist-all-b');
    const p = await json(await preview('?kind=purchases&triggers=all', again));
    expect(p.triggers).toMatchObject({ mode: 'all', orders: 2, recent_orders: 2, emails: 2 });
    const res = await upload('?kind=purchases&triggers=all', again);
    const events = await runImport((await json(res)).id);
    expect(events).toHaveLength(3);
    const fired = await fireTriggerEvents(
      { sql: h.db.sql, clock: () => new Date(), config: h.deps.config },
      events,
    );
    expect(fired.queued).toBe(2);
  });

  it('refuses an unknown trigger mode, naming it', async () => {
    const res = await upload('?kind=purchases&triggers=always', csv);
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([expect.objectContaining({ path: 'triggers', in: 'query' })]);
  });
});

describe('a French ERP purchases export', () => {
  const header = 'Code client;N° ligne;N° commande;Date commande;Article;Famille;Qté;Montant TTC';

  it('imports as purchases, its lines grouped by order: one automation per order, no phantom customer', async () => {
    await buyers('FR-001', 'FR-002');
    const at = french(new Date(Date.now() - 2 * 3_600_000));
    const csv = [
      header,
      `FR-001;1;CDE-1001;${at};CHAUSS-42;Chaussures;1;89,90`,
      `FR-001;2;CDE-1001;${at};CHAUSSET;Textile;2;12,50`,
      `FR-001;3;CDE-1001;${at};CIRAGE;Entretien;1;6,00`,
      `FR-002;1;CDE-1002;${at};SAC-01;Maroquinerie;1;149,00`,
      `FR-002;2;CDE-1002;${at};PORTEF;Maroquinerie;1;59,00`,
    ].join('\r\n');
    const customersBefore = await h.db.sql<{ n: number }[]>`select count(*)::int as n from customers`;

    const p = await json(await preview('', csv));
    expect(p).toMatchObject({
      kind: 'purchases',
      ignored_columns: 0,
      needs_confirmation: true,
      triggers: { orders: 2, recent_orders: 2, emails: 2, records: 5 },
    });
    expect(p.columns.map((c: { field: string | null }) => c.field)).toEqual([
      'customer_external_id',
      'line_number',
      'order_ref',
      'purchased_at',
      'sku',
      'category',
      'quantity',
      'amount',
    ]);
    expect(p.confirmation_reasons).toEqual([expect.stringContaining('guessed')]);

    // The kind was guessed: the upload must be confirmed.
    expect((await upload('', csv)).status).toBe(422);
    const res = await upload('?confirm=true&filename=export.csv', csv);
    expect(res.status).toBe(202);
    const created = await json(res);
    expect(created.kind).toBe('purchases');
    const events = await runImport(created.id);
    const row = await json(await h.get(`/v1/imports/${created.id}`));
    expect(row).toMatchObject({ status: 'done', rows_done: 5, rows_created: 5, rows_failed: 0 });

    const lines = await h.db.sql<
      { external_line_id: string; order_ref: string; amount: number; quantity: number }[]
    >`
      select external_line_id, order_ref, amount, quantity from purchases
      where order_ref like 'CDE-%' order by external_line_id`;
    expect(lines).toEqual([
      { external_line_id: 'CDE-1001/1', order_ref: 'CDE-1001', amount: 89.9, quantity: 1 },
      { external_line_id: 'CDE-1001/2', order_ref: 'CDE-1001', amount: 12.5, quantity: 2 },
      { external_line_id: 'CDE-1001/3', order_ref: 'CDE-1001', amount: 6, quantity: 1 },
      { external_line_id: 'CDE-1002/1', order_ref: 'CDE-1002', amount: 149, quantity: 1 },
      { external_line_id: 'CDE-1002/2', order_ref: 'CDE-1002', amount: 59, quantity: 1 },
    ]);
    const customersAfter = await h.db.sql<{ n: number }[]>`select count(*)::int as n from customers`;
    expect(customersAfter[0]!.n).toBe(customersBefore[0]!.n);

    const before = (await messagesOfTrigger()).length;
    const fired = await fireTriggerEvents(
      { sql: h.db.sql, clock: () => new Date(), config: h.deps.config },
      events,
    );
    expect(fired.queued).toBe(2);
    expect((await messagesOfTrigger()).length - before).toBe(2);
  });

  it('names refused rows by their file line, in the import and its error report', async () => {
    await buyers('FR-003');
    const at = french(new Date(Date.now() - 3_600_000));
    const csv = [
      header,
      `FR-003;1;CDE-2001;${at};A;X;1;10,00`,
      `FR-003;2;CDE-2001;${at};B;X;1;pas un prix`,
      `FR-999;1;CDE-2002;${at};C;X;1;5,00`,
    ].join('\n');
    const { id } = await json(await upload('?kind=purchases', csv));
    await runImport(id);
    const row = await json(await h.get(`/v1/imports/${id}`));
    expect(row.errors).toEqual([
      { line: 3, column: 'amount', reason: 'not a number: pas un prix' },
      { line: 4, column: 'customer_external_id', reason: 'no customer has this external_id' },
    ]);
    const report = await (await h.get(`/v1/imports/${id}/errors.csv`)).text();
    expect(
      report
        .split('\n')
        .slice(1, 3)
        .map((l) => l.split(',')[0]),
    ).toEqual(['3', '4']);
  });
});
