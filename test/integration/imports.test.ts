import { Worker } from 'bullmq';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importLocalStream, runUploadedImport } from '../../src/imports/run.js';
import { insertChunk, insertImport, markUploaded } from '../../src/imports/store.js';
import { importProcessor } from '../../workers/import.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await h.db.sql`
    insert into customers (external_id, email, timezone)
    select 'c' || i, 'c' || i || '@example.test', 'Europe/Paris' from generate_series(1, 20) i`;
});
afterAll(async () => h.close());

async function* bytes(content: Buffer | string): AsyncGenerator<Buffer> {
  const buffer = Buffer.isBuffer(content) ? content : Buffer.from(content);
  // Small pieces, so that records straddle chunk boundaries.
  for (let i = 0; i < buffer.length; i += 7) yield buffer.subarray(i, i + 7);
}

const importText = (kind: 'customers' | 'purchases', content: Buffer | string, options = {}) =>
  importLocalStream(
    { sql: h.db.sql, clock: () => new Date() },
    { kind, filename: 'test.csv', source: bytes(content), options: { batch_size: 3, ...options } },
  );

/** An import uploaded and waiting for its worker: the file stored in one chunk. */
async function storedUpload(
  kind: 'customers' | 'purchases',
  filename: string,
  csv: string,
  options: Record<string, unknown>,
) {
  const row = await insertImport(h.db.sql, { kind, filename, options, status: 'uploading' });
  await insertChunk(h.db.sql, row.id, 0, Buffer.from(csv));
  await markUploaded(h.db.sql, row.id, { kind, filename, options, size: csv.length });
  return row;
}

const errorsOf = (importId: number) =>
  h.db.sql<{ line: number; column: string | null; reason: string }[]>`
    select line, "column", reason from import_errors where import_id = ${importId} order by line, id`;

describe('purchases import', () => {
  it('reports each bad row (line, column, reason) and commits the rest', async () => {
    const csv = [
      'external_line_id,customer_external_id,sku,quantity,amount,purchased_at',
      'b-1,c1,SKU1,1,10.50,2024-03-01T10:00:00Z',
      'b-2,nobody,SKU1,1,10.50,2024-03-01T10:00:00Z',
      'b-3,c2,SKU1,-2,10.50,2024-03-01T10:00:00Z',
      'b-4,c2,SKU1,1,10.50,2999-03-01T10:00:00Z',
      'b-1,c3,SKU1,1,3,2024-03-01',
      'b-5,c3,SKU1,1,abc,2024-02-30',
      'b-6,c3,"broken,1,2,2024-03-01',
    ].join('\n');
    const { importId, progress } = await importText(
      'purchases',
      `${csv}\nb-7,c4,SKU2,2,20,2024-03-02 09:30\n`,
    );
    const errors = await errorsOf(importId);
    expect(errors).toEqual(
      expect.arrayContaining([
        { line: 3, column: 'customer_external_id', reason: 'no customer has this external_id' },
        { line: 4, column: 'quantity', reason: 'must be greater than 0' },
        { line: 5, column: 'purchased_at', reason: 'must not be in the future' },
        { line: 7, column: 'amount', reason: 'not a number: abc' },
        { line: 7, column: 'purchased_at', reason: 'not a date: 2024-02-30' },
      ]),
    );
    // The unclosed quote swallows the rest of the file: one malformed-record error, not a crash.
    expect(errors.some((e) => e.line >= 8 && /malformed|fields/.test(e.reason))).toBe(true);
    // GET /v1/imports/{id} shows them in line order, next to the counts and the report's URL.
    const shown = await json(await h.get(`/v1/imports/${importId}`));
    expect(shown).toMatchObject({
      rows_failed: 5,
      rows_unchanged: 1,
      errors_url: `/v1/imports/${importId}/errors.csv`,
    });
    expect(shown.errors).toEqual(errors);
    const rows = await h.db
      .sql`select external_line_id, amount from purchases where external_line_id like 'b-%' order by 1`;
    expect(rows.map((r) => r.external_line_id)).toEqual(['b-1']);
    expect(progress.created).toBe(1);
    // The purchase is on the customer's contact history once.
    const [b1] = await h.db.sql`select id, customer_id from purchases where external_line_id = 'b-1'`;
    const timeline = await json(await h.get(`/v1/customers/${b1!.customer_id}/timeline?kinds=purchase`));
    expect(timeline.data.filter((e: { purchase_id: number }) => e.purchase_id === b1!.id)).toHaveLength(1);
  });

  it('reports a duplicate line within a batch', async () => {
    const { importId } = await importText(
      'purchases',
      'external_line_id,customer_external_id,amount,purchased_at\nd-1,c1,5,2024-01-01\nd-1,c1,5,2024-01-01\n',
    );
    expect(await errorsOf(importId)).toEqual([
      { line: 3, column: 'external_line_id', reason: 'duplicate of line 2' },
    ]);
  });

  it('imports a Windows-1252 file with semicolons, French headers, dates and decimal commas', async () => {
    const csv =
      'N° ligne;Code client;Référence;Catégorie;Quantité;Montant TTC;Date commande\r\n' +
      'fr-1;c5;CAFÉ-200;épicerie;1,5;1 234,56;25/12/2023 14h30\r\n' +
      'fr-2;c5;THÉ;épicerie;2;7,9;01/02/2024\r\n';
    const { progress, importId } = await importText('purchases', iconv.encode(csv, 'win1252'), {
      timezone: 'Europe/Paris',
      mapping: { external_line_id: 'N° ligne' },
    });
    expect(await errorsOf(importId)).toEqual([]);
    expect(progress).toMatchObject({ rows: 2, created: 2, failed: 0 });
    const rows = await h.db.sql<
      { sku: string; category: string; quantity: number; amount: number; purchased_at: Date }[]
    >`
      select sku, category, quantity, amount, purchased_at from purchases where external_line_id like 'fr-%' order by external_line_id`;
    expect(rows[0]).toMatchObject({ sku: 'CAFÉ-200', category: 'épicerie', quantity: 1.5, amount: 1234.56 });
    expect(rows[0]!.purchased_at.toISOString()).toBe('2023-12-25T13:30:00.000Z');
    expect(rows[1]).toMatchObject({ sku: 'THÉ', amount: 7.9 });
    expect(rows[1]!.purchased_at.toISOString()).toBe('2024-01-31T23:00:00.000Z');
  });

  it('reads each date and number shape alike, whether the common shape or the general parser takes it', async () => {
    // Paris is UTC+1 in February and March 2024. Pairs: a common shape and a rarer spelling.
    const cases: [string, string | null][] = [
      ['2024-03-01T10:00:00Z', '2024-03-01T10:00:00.000Z'],
      ['2024-03-01T10:00:00.000Z', '2024-03-01T10:00:00.000Z'],
      ['2024-03-01 10:00:00', '2024-03-01T09:00:00.000Z'],
      ['2024-03-01 10:00', '2024-03-01T09:00:00.000Z'],
      ['2024-03-01T10:00:00.5', '2024-03-01T09:00:00.500Z'],
      ['2024-03-01', '2024-02-29T23:00:00.000Z'],
      ['2024-03-01T10:00:00+05:30', '2024-03-01T04:30:00.000Z'],
      ['2024-03-01T10:00:00+0530', '2024-03-01T04:30:00.000Z'],
      ['2024-03-01T10:00:00-03:00', '2024-03-01T13:00:00.000Z'],
      ['2024-02-29', '2024-02-28T23:00:00.000Z'],
      ['01/03/2024', '2024-02-29T23:00:00.000Z'],
      ['01/03/2024 10:00', '2024-03-01T09:00:00.000Z'],
      ['01/03/2024 10h00', '2024-03-01T09:00:00.000Z'],
      ['1/3/2024 10:00', '2024-03-01T09:00:00.000Z'],
      ['29/02/2024 10:00:00', '2024-02-29T09:00:00.000Z'],
      ['2023-02-29', null],
      ['2024-13-01', null],
      ['2024-01-10T24:00:00Z', null],
      ['31/04/2024', null],
      ['yesterday', null],
    ];
    const amounts: [string, number | null][] = [
      ['12.5', 12.5],
      ['+12.5', 12.5],
      ['1,234.50', 1234.5],
      // Negative amounts parse, and are refused without kind "refund" (test/security/refunds.test.ts).
      ['-3', null],
      ['12.345', null],
      ['1e3', null],
    ];
    const lines = [
      ...cases.map(([date], i) => `shape-d${i},c10,1,${date}`),
      ...amounts.map(([amount], i) => `shape-a${i},c10,"${amount}",2024-01-01`),
    ];
    const { importId } = await importText(
      'purchases',
      `external_line_id,customer_external_id,amount,purchased_at\n${lines.join('\n')}\n`,
      { timezone: 'Europe/Paris', batch_size: 1000 },
    );
    const stored = new Map(
      (
        await h.db.sql<{ external_line_id: string; purchased_at: Date; amount: number }[]>`
          select external_line_id, purchased_at, amount from purchases where external_line_id like 'shape-%'`
      ).map((r) => [r.external_line_id, r]),
    );
    const errors = await errorsOf(importId);
    cases.forEach(([date, expected], i) => {
      if (expected)
        expect([date, stored.get(`shape-d${i}`)?.purchased_at.toISOString()]).toEqual([date, expected]);
      else
        expect(errors).toContainEqual({ line: i + 2, column: 'purchased_at', reason: `not a date: ${date}` });
    });
    amounts.forEach(([amount, expected], i) => {
      if (expected !== null) expect([amount, stored.get(`shape-a${i}`)?.amount]).toEqual([amount, expected]);
      else expect(errors.some((e) => e.line === cases.length + i + 2 && e.column === 'amount')).toBe(true);
    });
  });

  it('is idempotent: the same file twice changes nothing', async () => {
    const csv =
      'line_id,client,total,date\ni-1,c6,10,2024-01-01\ni-2,c6,11,2024-01-02\ni-3,c7,12,2024-01-03\ni-4,c7,13,2024-01-04\n';
    const first = await importText('purchases', csv);
    const before = await h.db
      .sql`select count(*)::int as p, (select count(*)::int from contact_events) as e from purchases`;
    const second = await importText('purchases', csv);
    const after = await h.db
      .sql`select count(*)::int as p, (select count(*)::int from contact_events) as e from purchases`;
    expect(first.progress).toMatchObject({ rows: 4, created: 4 });
    expect(second.progress).toMatchObject({ rows: 4, created: 0, failed: 0 });
    expect(after).toEqual(before);
  });

  it('resumes an interrupted upload, skipping exactly the batches already committed', async () => {
    // Batches commit in parallel, so out of order: a worker died after committing the second.
    const header = 'external_line_id,customer_external_id,amount,purchased_at\n';
    const lines = Array.from({ length: 6 }, (_, i) => `r-${i},c9,${i + 1},2024-01-0${i + 1}\n`);
    const csv = header + lines.join('');
    const options = { batch_size: 2 };
    const row = await storedUpload('purchases', 'r.csv', csv, options);
    const secondEnds = header.length + lines.slice(0, 4).join('').length;
    await h.db.sql`
      update imports set status = 'running', committed_batches = array[${secondEnds}::bigint],
        rows_done = 2, rows_created = 2
      where id = ${row.id}`;
    const progress = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, row.id);
    expect(progress).toMatchObject({ rows: 4, created: 4 });
    const ids = await h.db
      .sql`select external_line_id from purchases where external_line_id like 'r-%' order by 1`;
    expect(ids.map((r) => r.external_line_id)).toEqual(['r-0', 'r-1', 'r-4', 'r-5']);
    expect(await json(await h.get(`/v1/imports/${row.id}`))).toMatchObject({
      status: 'done',
      rows_done: 6,
      rows_created: 6,
      rows_failed: 0,
    });
  });

  it('resumes an interrupted customers import after its last committed batch: no row or error twice', async () => {
    const header = 'external_id,email,birth_date\n';
    const lines = Array.from({ length: 9 }, (_, i) =>
      i === 1 ? 'k-1,not-an-email,1980-01-01\n' : `k-${i},k${i}@example.test,1980-01-0${i + 1}\n`,
    );
    const csv = header + lines.join('');
    const options = { batch_size: 3 };
    const row = await storedUpload('customers', 'k.csv', csv, options);
    // The database fails the third batch once, as a worker dying there would leave it.
    await h.db.sql.unsafe(`
      create sequence k_crash;
      create function k_crash() returns trigger language plpgsql as $$
        begin
          if new.external_id = 'k-7' and nextval('k_crash') = 1 then raise exception 'worker died'; end if;
          return new;
        end $$;
      create trigger k_crash before insert on customers for each row execute function k_crash();`);
    try {
      await expect(runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, row.id)).rejects.toThrow(
        'worker died',
      );
      const interrupted = await json(await h.get(`/v1/imports/${row.id}`));
      expect(interrupted).toMatchObject({ status: 'running', rows_done: 6, rows_created: 5, rows_failed: 1 });
      const resumed = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, row.id);
      expect(resumed).toMatchObject({ rows: 3, created: 3, failed: 0 });
    } finally {
      await h.db.sql.unsafe(
        'drop trigger k_crash on customers; drop function k_crash(); drop sequence k_crash',
      );
    }
    expect(await json(await h.get(`/v1/imports/${row.id}`))).toMatchObject({
      status: 'done',
      rows_done: 9,
      rows_created: 8,
      rows_unchanged: 0,
      rows_failed: 1,
      bytes_done: csv.length,
      progress: 1,
    });
    expect(await errorsOf(row.id)).toEqual([{ line: 3, column: 'email', reason: expect.any(String) }]);
    const ids = await h.db.sql`select external_id from customers where external_id like 'k-%' order by 1`;
    expect(ids.map((r) => r.external_id)).toEqual(['k-0', 'k-2', 'k-3', 'k-4', 'k-5', 'k-6', 'k-7', 'k-8']);
  });

  it('runs batches side by side: lines repeated crosswise in two batches go in once', async () => {
    // Batch 1 inserts x-a first and x-b last, batch 2 the other way round: concurrently, each
    // may wait for the other (PostgreSQL then aborts one as a deadlock and it is retried).
    const middle = (from: number) =>
      Array.from({ length: 2998 }, (_, i) => `x-${from + i},c${1 + (i % 20)},1,2024-01-01`);
    const csv = [
      'external_line_id,customer_external_id,amount,purchased_at',
      'x-a,c1,1,2024-01-01',
      ...middle(0),
      'x-b,c2,1,2024-01-01',
      'x-b,c2,1,2024-01-01',
      ...middle(10_000),
      'x-a,c1,1,2024-01-01',
    ].join('\n');
    const { progress, importId } = await importText('purchases', `${csv}\n`, {
      batch_size: 3000,
      concurrency: 2,
    });
    expect(progress).toMatchObject({ rows: 6000, created: 5998, failed: 0 });
    expect(await errorsOf(importId)).toEqual([]);
    const [row] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from purchases where external_line_id like 'x-%'`;
    expect(row!.n).toBe(5998);
  });

  it('refuses a file whose header does not map, naming the missing fields', async () => {
    await expect(importText('purchases', 'foo,bar\n1,2\n')).rejects.toMatchObject({
      status: 422,
      errors: expect.arrayContaining([expect.objectContaining({ path: 'mapping.amount' })]),
    });
  });

  it('refuses an unknown time zone (422) before reading a row', async () => {
    await expect(
      importText('purchases', 'line_id,client,total,date\ntz-1,c6,10,2024-01-01\n', {
        timezone: 'Mars/Olympus',
      }),
    ).rejects.toMatchObject({ status: 422, errors: [expect.objectContaining({ path: 'timezone' })] });
    const [row] = await h.db.sql`select count(*)::int as n from purchases where external_line_id = 'tz-1'`;
    expect(row!.n).toBe(0);
  });
});

describe('customers import', () => {
  it('upserts by external id and reports bad rows', async () => {
    const csv =
      'Code client;E-mail;Prénom;Date de naissance\nnew-1;A@Example.test;Zoé;12/04/1985\nnew-2;not-an-email;Léa;\n';
    const { importId, progress } = await importText('customers', csv);
    expect(progress).toMatchObject({ rows: 2, created: 1, failed: 1 });
    expect(await errorsOf(importId)).toEqual([expect.objectContaining({ line: 3, column: 'email' })]);
    const [row] = await h.db
      .sql`select email, first_name, birth_date::text from customers where external_id = 'new-1'`;
    expect(row).toEqual({ email: 'a@example.test', first_name: 'Zoé', birth_date: '1985-04-12' });
  });

  it('records a marketing consent column on the ledger with the import as its source', async () => {
    const csv =
      'code_client;courriel;newsletter\nnl-1;nl1@example.test;oui\nnl-2;nl2@example.test;non\nnl-3;nl3@example.test;\n';
    const { importId, progress } = await importText('customers', csv);
    expect(progress).toMatchObject({ rows: 3, created: 3, failed: 0 });
    const ledger = await h.db.sql<{ external_id: string; granted: boolean; source: string }[]>`
      select c.external_id, k.granted, k.source from consents k join customers c on c.id = k.customer_id
      where c.external_id like 'nl-%' and k.purpose = 'marketing_email' order by 1`;
    // An empty cell is no decision: nothing is written for nl-3.
    expect(ledger).toEqual([
      { external_id: 'nl-1', granted: true, source: `import:${importId}` },
      { external_id: 'nl-2', granted: false, source: `import:${importId}` },
    ]);
    // The same file again appends nothing: only changes reach the ledger.
    await importText('customers', csv);
    const [{ n }] = (await h.db.sql`
      select count(*)::int as n from consents k join customers c on c.id = k.customer_id
      where c.external_id like 'nl-%'`) as unknown as [{ n: number }];
    expect(n).toBe(2);
  });
});

describe('POST /v1/imports', () => {
  it('stores the upload, runs it on a real BullMQ worker and serves progress and errors.csv', async () => {
    const worker = new Worker(
      'import',
      importProcessor({ sql: h.db.sql, jobs: h.dispatcher, clock: () => new Date() }),
      {
        connection: h.deps.redis!,
        prefix: h.queuePrefix,
      },
    );
    try {
      const form = new FormData();
      form.set('kind', 'purchases');
      form.set(
        'file',
        new File(
          [
            'external_line_id,customer_external_id,amount,purchased_at\nh-1,c8,10,2024-01-01\nh-2,ghost,10,2024-01-01\n',
          ],
          'erp.csv',
          {
            type: 'text/csv',
          },
        ),
      );
      const res = await h.post('/v1/imports', form);
      expect(res.status).toBe(202);
      const created = await json(res);
      expect(created).toMatchObject({ kind: 'purchases', status: 'queued', filename: 'erp.csv' });
      let state = created;
      for (let i = 0; i < 100 && !['done', 'failed'].includes(state.status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = await json(await h.get(`/v1/imports/${created.id}`));
      }
      expect(state).toMatchObject({
        status: 'done',
        progress: 1,
        rows_done: 2,
        rows_created: 1,
        rows_failed: 1,
      });
      const report = await h.get(`/v1/imports/${created.id}/errors.csv`);
      expect(report.headers.get('content-type')).toContain('text/csv');
      expect(await report.text()).toBe(
        'line,column,reason\n3,customer_external_id,no customer has this external_id\n',
      );
      const chunks = await h.db
        .sql`select count(*)::int as n from import_chunks where import_id = ${created.id}`;
      expect(chunks[0]!.n).toBe(0);
    } finally {
      await worker.close();
    }
  });

  it('refuses a body without a file or with an unknown kind (422), and analysts (403)', async () => {
    const form = new FormData();
    form.set('kind', 'orders');
    const res = await h.post('/v1/imports', form);
    expect(res.status).toBe(422);
    const paths = (await json(res)).errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['kind', 'file']));
    expect((await h.post('/v1/imports', new FormData(), { role: 'analyst' })).status).toBe(403);
    expect((await h.get('/v1/imports/999999')).status).toBe(404);
  });
});

describe('GET /v1/imports', () => {
  it('lists imports newest first, page by page, filtered by kind and status', async () => {
    const customers = await importText('customers', 'external_id,email\nlist-1,l1@example.com\n');
    const purchases = await importText(
      'purchases',
      'external_line_id,customer_external_id,amount,purchased_at\nlist-p1,c1,5,2024-01-01\nlist-p2,nobody,5,2024-01-01\n',
    );
    const waiting = await storedUpload('purchases', 'waiting.csv', 'external_line_id\n', {});
    const stored = await h.db.sql<{ id: number; kind: string; status: string }[]>`
      select id, kind, status from imports order by id desc`;
    expect(stored.length).toBeGreaterThanOrEqual(3);

    const walk = async (query: string) => {
      const ids: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await h.get(`/v1/imports?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`, {
          role: 'integrator',
        });
        expect(res.status).toBe(200);
        const body = await json(res);
        expect(body.data.length).toBeLessThanOrEqual(2);
        ids.push(...body.data.map((i: { id: number }) => i.id));
        cursor = body.next_cursor;
      } while (cursor);
      return ids;
    };
    expect(await walk('')).toEqual(stored.map((r) => r.id));
    expect(await walk('&kind=customers')).toEqual(
      stored.filter((r) => r.kind === 'customers').map((r) => r.id),
    );
    expect(await walk('&status=queued')).toEqual(
      stored.filter((r) => r.status === 'queued').map((r) => r.id),
    );
    expect(await walk('&status=queued')).toContain(waiting.id);

    const first = await json(await h.get('/v1/imports?limit=3'));
    expect(first.data.map((i: { id: number }) => i.id)).toEqual([
      waiting.id,
      purchases.importId,
      customers.importId,
    ]);
    expect(first.data[1]).toMatchObject({
      kind: 'purchases',
      status: 'done',
      rows_done: 2,
      rows_created: 1,
      rows_failed: 1,
      errors_url: `/v1/imports/${purchases.importId}/errors.csv`,
    });
    expect(first.data[1]).not.toHaveProperty('errors');
  });

  it('refuses a bad filter or cursor naming the parameter, and analysts', async () => {
    const badKind = await h.get('/v1/imports?kind=orders');
    expect(badKind.status).toBe(422);
    expect((await json(badKind)).errors.map((e: { path: string }) => e.path)).toContain('kind');
    const badCursor = await h.get('/v1/imports?cursor=nonsense');
    expect(badCursor.status).toBe(400);
    expect((await json(badCursor)).errors[0]).toMatchObject({ path: 'cursor', in: 'query' });
    expect((await h.get('/v1/imports', { role: 'analyst' })).status).toBe(403);
  });
});

describe('POST /v1/imports/preview', () => {
  const previewOf = (
    query: string,
    body: string | Uint8Array,
    role: 'integrator' | 'analyst' = 'integrator',
  ) => h.post(`/v1/imports/preview${query}`, body, { headers: { 'content-type': 'text/csv' }, role });
  const importCount = async () => (await h.db.sql`select count(*)::int as n from imports`)[0]!.n;

  it('shows how a Windows-1252 semicolon file reads: columns to fields and the first records', async () => {
    const lines = Array.from({ length: 15 }, (_, i) => `pv-${i};c1;THÉ ${i};épicerie;1 234,5${i};25/12/2023`);
    const csv = iconv.encode(
      `N° ligne;Code client;Référence;Catégorie;Montant TTC;Date commande;Remarque\r\n${lines.join('\r\n')}\r\n`,
      'win1252',
    );
    const before = await importCount();
    const res = await previewOf(
      '?kind=purchases&mapping=%7B%22external_line_id%22%3A%22N%C2%B0%20ligne%22%7D',
      csv,
    );
    expect(res.status).toBe(200);
    const preview = await json(res);
    expect(preview).toMatchObject({
      kind: 'purchases',
      separator: ';',
      encoding: 'windows-1252',
      decimal_comma: true,
      header: [
        'N° ligne',
        'Code client',
        'Référence',
        'Catégorie',
        'Montant TTC',
        'Date commande',
        'Remarque',
      ],
      required: ['external_line_id', 'customer_external_id', 'amount', 'purchased_at'],
    });
    expect(
      Object.fromEntries(
        preview.columns.map((c: { header: string; field: string | null }) => [c.header, c.field]),
      ),
    ).toEqual({
      'N° ligne': 'external_line_id',
      'Code client': 'customer_external_id',
      Référence: 'sku',
      Catégorie: 'category',
      'Montant TTC': 'amount',
      'Date commande': 'purchased_at',
      Remarque: null,
    });
    expect(preview.sample).toHaveLength(10);
    expect(preview.sample[0]).toEqual({
      line: 2,
      values: {
        external_line_id: 'pv-0',
        customer_external_id: 'c1',
        sku: 'THÉ 0',
        category: 'épicerie',
        amount: '1 234,50',
        purchased_at: '25/12/2023',
      },
    });
    expect(preview.sample.map((r: { line: number }) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await importCount()).toBe(before);
  });

  it('reads the kind from the header when none is given', async () => {
    const purchases = await json(await previewOf('', 'Ligne;Client;Montant;Date\nl1;c1;12,50;01/02/2024\n'));
    expect(purchases).toMatchObject({
      kind: 'purchases',
      required: ['external_line_id', 'customer_external_id', 'amount', 'purchased_at'],
    });
    expect(purchases.sample[0].values).toEqual({
      line_number: 'l1',
      customer_external_id: 'c1',
      amount: '12,50',
      purchased_at: '01/02/2024',
    });
    const customers = await json(await previewOf('', 'customer_id,email\nc1,c1@example.test\n'));
    expect(customers).toMatchObject({ kind: 'customers', required: ['external_id'] });
    expect(customers.columns).toEqual([
      { header: 'customer_id', field: 'external_id' },
      { header: 'email', field: 'email' },
    ]);
  });

  it('refuses a header that does not map (422 naming mapping.<field>), a non-CSV body (415), a bad option, analysts', async () => {
    const noAmount = await previewOf(
      '?kind=purchases',
      'external_line_id,customer_external_id,purchased_at\nx,c1,2024-01-01\n',
    );
    expect(noAmount.status).toBe(422);
    expect((await json(noAmount)).errors).toEqual([
      expect.objectContaining({
        path: 'mapping.amount',
        message: expect.stringContaining('no column for required field'),
      }),
    ]);
    const unknownField = await previewOf(
      `?kind=customers&mapping=${encodeURIComponent('{"shoe_size":"Size"}')}`,
      'external_id,Size\nk1,42\n',
    );
    expect(unknownField.status).toBe(422);
    expect((await json(unknownField)).errors[0]).toMatchObject({ path: 'mapping.shoe_size' });
    const badKind = await previewOf('?kind=orders', 'a\n1\n');
    expect(badKind.status).toBe(422);
    expect((await json(badKind)).errors[0]).toMatchObject({ path: 'kind', in: 'query' });
    const noKind = await previewOf('', 'sku,colour\nS1,red\n');
    expect(noKind.status).toBe(422);
    expect((await json(noKind)).errors).toEqual([
      expect.objectContaining({
        path: 'kind',
        in: 'query',
        message: expect.stringContaining('(sku, colour)'),
      }),
    ]);
    const json415 = await h.post('/v1/imports/preview?kind=customers', { external_id: 'k1' });
    expect(json415.status).toBe(415);
    expect((await json(json415)).errors[0]).toMatchObject({ path: 'content-type', in: 'header' });
    expect((await previewOf('?kind=customers', 'external_id\nk1\n', 'analyst')).status).toBe(403);
  });
});
