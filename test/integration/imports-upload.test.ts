import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { runUploadedImport } from '../../src/imports/run.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The upload route streams its body to the database: it takes files far over the API-wide body
// limit (set tiny here), refuses one over IMPORT_MAX_BYTES with a 413, and stores nothing then.
const BODY_LIMIT_BYTES = 4096;
const IMPORT_MAX_BYTES = 1_500_000;

let h: Harness;
beforeAll(async () => {
  const config = {
    ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
    BODY_LIMIT_BYTES,
    IMPORT_MAX_BYTES,
    IMPORT_CONCURRENT_UPLOADS: 1,
  };
  h = await createHarness({ config });
  await h.db.sql`
    insert into customers (external_id, email)
    select 'u' || i, 'u' || i || '@example.test' from generate_series(1, 100) i`;
});
afterAll(async () => h.close());

/** A purchases CSV of `lines` lines (about 40 bytes each) with ids prefixed by `prefix`, dated in local time. */
function purchasesCsv(prefix: string, lines: number): string {
  const rows = ['external_line_id,customer_external_id,amount,purchased_at'];
  for (let i = 0; i < lines; i++)
    rows.push(`${prefix}-${i},u${1 + (i % 100)},${(i % 90) + 1}.50,2024-05-01 10:00`);
  return `${rows.join('\n')}\n`;
}

const counts = async () => {
  const [row] = await h.db.sql<{ imports: number; chunks: number }[]>`
    select (select count(*)::int from imports) as imports, (select count(*)::int from import_chunks) as chunks`;
  return row!;
};

const upload = (parts: [string, string | File][]) => {
  const form = new FormData();
  for (const [name, value] of parts) form.append(name, value);
  return h.post('/v1/imports', form);
};

describe('POST /v1/imports streams the file', () => {
  it('takes the file itself as a text/csv body, with its options in the query string', async () => {
    const csv = purchasesCsv('raw', 2_000);
    expect(csv.length).toBeGreaterThan(BODY_LIMIT_BYTES);
    const res = await h.post('/v1/imports?kind=purchases&filename=raw.csv&timezone=Europe%2FParis', csv, {
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(202);
    const created = await json(res);
    expect(created).toMatchObject({ kind: 'purchases', filename: 'raw.csv', size_bytes: csv.length });
    const progress = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, created.id);
    expect(progress).toMatchObject({ rows: 2_000, created: 2_000, failed: 0 });
    const [imported] = await h.db.sql<{ n: number; at: Date }[]>`
      select count(*)::int as n, min(purchased_at) as at from purchases where external_line_id like 'raw-%'`;
    expect(imported).toEqual({ n: 2_000, at: new Date('2024-05-01T08:00:00Z') });
  });

  it('refuses a text/csv body with an unknown kind, no kind its header tells, or an unknown option, naming it in the query; nothing stored', async () => {
    const before = await counts();
    const neither = 'sku,colour\nS1,red\n';
    for (const [query, path, csv] of [
      ['', 'kind', neither],
      ['?kind=orders', 'kind', purchasesCsv('bad', 3)],
      ['?kind=purchases&colour=red', 'colour', purchasesCsv('bad', 3)],
    ] as const) {
      const res = await h.post(`/v1/imports${query}`, csv, {
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.status).toBe(422);
      const problem = await json(res);
      expect(
        problem.errors.some((e: { path: string; in: string }) => e.in === 'query' && e.path === path),
      ).toBe(true);
    }
    expect(await counts()).toEqual(before);
  });

  it('asks to confirm a guessed kind (422 needs-confirmation, nothing stored) and imports once confirmed', async () => {
    const before = await h.db.sql<{ n: number }[]>`select count(*)::int as n from imports`;
    const guessed = await upload([
      ['file', new File([purchasesCsv('unconfirmed', 3)], 'erp.csv', { type: 'text/csv' })],
    ]);
    expect(guessed.status).toBe(422);
    const problem = await json(guessed);
    expect(problem).toMatchObject({
      type: 'https://offerflow.dev/problems/needs-confirmation',
      kind: 'purchases',
      errors: [expect.objectContaining({ path: 'confirm', message: expect.stringContaining('guessed') })],
    });
    // A customers file read off a purchases export: 7 of 8 columns would be ignored.
    const french =
      'Code client;Colonne A;Colonne B;Colonne C;Colonne D;Colonne E;Colonne F;Colonne G\nC1;a;b;c;d;e;f;g\n';
    const ignored = await h.post('/v1/imports?kind=customers', french, {
      headers: { 'content-type': 'text/csv' },
    });
    expect(ignored.status).toBe(422);
    expect((await json(ignored)).detail).toContain('7 of 8 columns would be ignored');
    const after = await h.db.sql<{ n: number }[]>`select count(*)::int as n from imports`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('reads the kind from the header when none is given: purchases, customers, or per the mapping', async () => {
    const run = async (res: Response, kind: string) => {
      expect(res.status).toBe(202);
      const created = await json(res);
      expect(created.kind).toBe(kind);
      return runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, created.id);
    };
    const form = await run(
      await upload([
        ['confirm', 'true'],
        ['file', new File([purchasesCsv('nokind', 5)], 'erp.csv', { type: 'text/csv' })],
      ]),
      'purchases',
    );
    expect(form).toMatchObject({ rows: 5, created: 5, failed: 0 });
    const raw = await run(
      await h.post(
        '/v1/imports?filename=crm.csv&confirm=true',
        'Code client;Courriel\nnk-1;nk1@example.test\n',
        {
          headers: { 'content-type': 'text/csv' },
        },
      ),
      'customers',
    );
    expect(raw).toMatchObject({ rows: 1, created: 1, failed: 0 });
    const mapped = await run(
      await h.post(
        `/v1/imports?confirm=true&mapping=${encodeURIComponent('{"external_id":"Numéro"}')}`,
        'Numéro,Courriel\nnk-2,nk2@example.test\n',
        { headers: { 'content-type': 'text/csv' } },
      ),
      'customers',
    );
    expect(mapped).toMatchObject({ rows: 1, created: 1, failed: 0 });
    const [stored] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from customers where external_id in ('nk-1', 'nk-2')`;
    expect(stored!.n).toBe(2);
  });

  it('takes IMPORT_CONCURRENT_UPLOADS uploads at once; one more gets a 429 with Retry-After, unread', async () => {
    const key = await h.keyFor('integrator');
    // An upload whose body arrives when the test says: its first piece, then the rest.
    let reading!: () => void;
    const started = new Promise<void>((resolve) => {
      reading = resolve;
    });
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const csv = new TextEncoder().encode(purchasesCsv('slow', 50));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) {
          controller.enqueue(csv.subarray(0, 100));
          sent = 100;
          reading();
          return;
        }
        await gate;
        controller.enqueue(csv.subarray(sent));
        controller.close();
      },
    });
    const slow = h.app.request('/v1/imports?kind=purchases&filename=slow.csv', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    } as RequestInit);
    await started;
    const before = await counts();
    const refused = await h.post('/v1/imports?kind=purchases', purchasesCsv('second', 3), {
      headers: { 'content-type': 'text/csv' },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await json(refused)).toMatchObject({
      status: 429,
      detail: expect.stringContaining('IMPORT_CONCURRENT_UPLOADS'),
    });
    finish();
    const first = await slow;
    expect(first.status).toBe(202);
    expect(await json(first.clone())).toMatchObject({ filename: 'slow.csv', size_bytes: csv.length });
    expect((await counts()).imports).toBe(before.imports + 1);
    // The slot is free again.
    const next = await h.post('/v1/imports?kind=purchases', purchasesCsv('third', 3), {
      headers: { 'content-type': 'text/csv' },
    });
    expect(next.status).toBe(202);
    // Both stored whole: they import every line (and leave no stored pieces behind).
    const run = (id: number) => runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, id);
    expect(await run((await json(first.clone())).id)).toMatchObject({ rows: 50, created: 50, failed: 0 });
    expect(await run((await json(next)).id)).toMatchObject({ rows: 3, created: 3, failed: 0 });
  });

  it('refuses a form without a kind whose header tells none, naming kind and the columns; nothing stored', async () => {
    const before = await counts();
    const res = await upload([['file', new File(['sku,colour\nS1,red\n'], 'odd.csv', { type: 'text/csv' })]]);
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([
      expect.objectContaining({
        path: 'kind',
        in: 'body',
        message: expect.stringContaining('the header (sku, colour) has the columns of neither purchases'),
      }),
    ]);
    expect(await counts()).toEqual(before);
  });

  it('takes a file far over the body limit, in 1 MB pieces, and imports every line', async () => {
    const csv = purchasesCsv('big', 30_000);
    expect(csv.length).toBeGreaterThan(1024 * 1024);
    expect(csv.length).toBeLessThan(IMPORT_MAX_BYTES);
    // The file before the fields: the row is completed once the whole form is read.
    const res = await upload([
      ['file', new File([csv], 'erp.csv', { type: 'text/csv' })],
      ['kind', 'purchases'],
      ['timezone', 'Europe/Paris'],
    ]);
    expect(res.status).toBe(202);
    const created = await json(res);
    expect(created).toMatchObject({
      kind: 'purchases',
      status: 'queued',
      filename: 'erp.csv',
      size_bytes: csv.length,
    });
    const [pieces] = await h.db.sql<{ n: number; bytes: number }[]>`
      select count(*)::int as n, sum(length(data))::int as bytes from import_chunks where import_id = ${created.id}`;
    expect(pieces).toEqual({ n: 2, bytes: csv.length });
    const [stored] = await h.db.sql<{ options: Record<string, unknown> }[]>`
      select options from imports where id = ${created.id}`;
    expect(stored!.options).toEqual({ timezone: 'Europe/Paris' });

    const progress = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, created.id);
    expect(progress).toMatchObject({ rows: 30_000, created: 30_000, failed: 0 });
    const state = await json(await h.get(`/v1/imports/${created.id}`));
    expect(state).toMatchObject({ status: 'done', progress: 1, rows_done: 30_000, rows_created: 30_000 });
    const [imported] = await h.db.sql<{ n: number; at: Date }[]>`
      select count(*)::int as n, min(purchased_at) as at from purchases where external_line_id like 'big-%'`;
    // The form's time zone reached the worker: 10:00 in Paris is 08:00 UTC in May.
    expect(imported).toEqual({ n: 30_000, at: new Date('2024-05-01T08:00:00Z') });
    expect((await counts()).chunks).toBe(0);
  });

  it('still applies the body limit to every other route', async () => {
    const res = await h.post('/v1/customers', {
      external_id: 'x',
      attributes: { note: 'y'.repeat(BODY_LIMIT_BYTES) },
    });
    expect(res.status).toBe(413);
  });

  it('refuses a file over IMPORT_MAX_BYTES with a 413 and stores nothing', async () => {
    const before = await counts();
    const csv = purchasesCsv('huge', 40_000);
    expect(csv.length).toBeGreaterThan(IMPORT_MAX_BYTES);
    const res = await upload([
      ['kind', 'purchases'],
      ['file', new File([csv], 'huge.csv', { type: 'text/csv' })],
    ]);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(res);
    expect(problem).toMatchObject({ status: 413, type: expect.stringContaining('too-large') });
    expect(problem.detail).toContain('IMPORT_MAX_BYTES');
    expect(await counts()).toEqual(before);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const before = await counts();
    const res = await h.request('POST', '/v1/imports', {
      body: 'x',
      headers: {
        'content-type': 'multipart/form-data; boundary=abc',
        'content-length': String(IMPORT_MAX_BYTES * 2),
      },
    });
    expect(res.status).toBe(413);
    expect(await counts()).toEqual(before);
  });

  it('refuses a bad option sent before the file without storing the file (422)', async () => {
    const before = await counts();
    const res = await upload([
      ['kind', 'orders'],
      ['file', new File([purchasesCsv('early', 10)], 'a.csv')],
    ]);
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([expect.objectContaining({ path: 'kind' })]);
    expect(await counts()).toEqual(before);
  });

  it('refuses a bad option after the file, a second file, and an empty file, storing nothing (422)', async () => {
    const before = await counts();
    const late = await upload([
      ['file', new File([purchasesCsv('late', 10)], 'a.csv')],
      ['kind', 'purchases'],
      ['encoding', 'latin-9'],
    ]);
    expect(late.status).toBe(422);
    expect((await json(late)).errors).toEqual([expect.objectContaining({ path: 'encoding' })]);
    const two = await upload([
      ['kind', 'purchases'],
      ['file', new File([purchasesCsv('one', 10)], 'a.csv')],
      ['other', new File(['x'], 'b.csv')],
    ]);
    expect(two.status).toBe(422);
    expect((await json(two)).errors).toEqual([expect.objectContaining({ path: 'other' })]);
    const empty = await upload([
      ['kind', 'purchases'],
      ['file', new File([], 'empty.csv')],
    ]);
    expect(empty.status).toBe(422);
    expect((await json(empty)).errors).toEqual([
      expect.objectContaining({ path: 'file', message: 'the file is empty' }),
    ]);
    expect(await counts()).toEqual(before);
  });

  it('refuses a truncated body (no closing boundary) with a 400 and stores nothing', async () => {
    const before = await counts();
    const body = [
      '--abc',
      'Content-Disposition: form-data; name="kind"',
      '',
      'purchases',
      '--abc',
      'Content-Disposition: form-data; name="file"; filename="cut.csv"',
      'Content-Type: text/csv',
      '',
      purchasesCsv('cut', 50),
    ].join('\r\n');
    const res = await h.request('POST', '/v1/imports', {
      body,
      headers: { 'content-type': 'multipart/form-data; boundary=abc' },
    });
    expect(res.status).toBe(400);
    expect((await json(res)).errors).toEqual([expect.objectContaining({ path: 'body' })]);
    expect(await counts()).toEqual(before);
  });
});

describe('the import page (POST /ui/imports) streams the upload on to the API', () => {
  /** The form as a browser sends it: fields in page order, so the file comes before the options. */
  const postForm = async (parts: [string, string | File][]) => {
    const { session } = await signIn;
    const form = new FormData();
    for (const [name, value] of parts) form.append(name, value);
    return h.app.request('/ui/imports', { method: 'POST', headers: { cookie: session }, body: form });
  };
  let signIn: ReturnType<typeof signInToUi>;
  beforeAll(() => {
    signIn = signInToUi(h, 'integrator');
  });

  it('takes a file far over the body limit, with the options that follow it, and imports every line', async () => {
    const { csrf } = await signIn;
    const csv = purchasesCsv('page', 3_000).replaceAll(',', ';');
    expect(csv.length).toBeGreaterThan(BODY_LIMIT_BYTES * 20);
    const res = await postForm([
      ['_csrf', csrf],
      ['file', new File([csv], 'erp-page.csv', { type: 'text/csv' })],
      ['kind', 'purchases'],
      ['mapping', ''],
      ['separator', 'semicolon'],
      ['encoding', 'utf-8'],
    ]);
    expect(res.status).toBe(303);
    const id = Number(/\/ui\/imports\/(\d+)$/.exec(res.headers.get('location') ?? '')?.[1]);
    const row = await json(await h.get(`/v1/imports/${id}`));
    expect(row).toMatchObject({ kind: 'purchases', filename: 'erp-page.csv', size_bytes: csv.length });
    const progress = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, id);
    expect(progress).toMatchObject({ rows: 3_000, created: 3_000, failed: 0 });
  });

  it('refuses a form whose CSRF token is missing or comes after the file, storing nothing (403)', async () => {
    const { csrf } = await signIn;
    const before = await counts();
    const file = new File([purchasesCsv('tok', 500)], 'tok.csv');
    const late = await postForm([
      ['file', file],
      ['_csrf', csrf],
      ['kind', 'purchases'],
    ]);
    expect(late.status).toBe(403);
    const wrong = await postForm([
      ['_csrf', `${csrf}x`],
      ['kind', 'purchases'],
    ]);
    expect(wrong.status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('shows a bad option sent after the file at its field, and a file over IMPORT_MAX_BYTES, storing nothing', async () => {
    const { csrf } = await signIn;
    const before = await counts();
    const bad = await postForm([
      ['_csrf', csrf],
      ['file', new File([purchasesCsv('opt', 2_000)], 'opt.csv')],
      ['kind', 'purchases'],
      ['separator', 'pipe'],
    ]);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toMatch(/id="f-separator"[^>]*aria-invalid="true"/);
    // What was chosen stays chosen.
    expect(html).toMatch(/<option value="purchases" selected="">/);
    const huge = await postForm([
      ['_csrf', csrf],
      ['kind', 'purchases'],
      ['file', new File([purchasesCsv('huge-page', 40_000)], 'huge.csv')],
    ]);
    expect(huge.status).toBe(413);
    expect(await huge.text()).toContain('IMPORT_MAX_BYTES');
    expect(await counts()).toEqual(before);
  });
});
