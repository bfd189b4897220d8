import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUploadedImport } from '../../src/imports/run.js';
import { htmlToText } from '../../src/templates/compile.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { tableSnapshot } from '../helpers/table-snapshot.js';
import { signInToUi } from '../helpers/ui-session.js';

// Input that used to be a 500 (or an import stuck `running`): each is now a 422 naming the
// field (or a row error in an import), and nothing stored changes.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await h.post('/v1/customers', { external_id: 'nul-c', email: 'nul@example.com' });
  await h.keyFor('admin');
});
afterAll(async () => h.close());

const NUL = '\u0000';
const mjml = (body: string) =>
  `<mjml><mj-body><mj-section><mj-column><mj-text>${body}</mj-text></mj-column></mj-section></mj-body></mjml>`;

/** The request is a 422 problem whose errors name `path`, and no table changed. */
async function refused(send: () => Promise<Response>, path: string | RegExp, where?: string) {
  const before = await tableSnapshot(h.db.sql);
  const res = await send();
  expect(res.status, where).toBe(422);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const problem = await json(res);
  const paths = problem.errors.map((e: { path: string }) => e.path);
  expect(
    paths.some((p: string) => (typeof path === 'string' ? p === path : path.test(p))),
    paths.join(),
  ).toBe(true);
  expect(await tableSnapshot(h.db.sql)).toEqual(before);
  return problem;
}

describe('NUL bytes', () => {
  it('in offer fields: a 422 naming the field', async () => {
    const offer = { name: 'Offer', title: 'Title', url: 'https://shop.example/x' };
    for (const field of ['name', 'title', 'text', 'code', 'category']) {
      await refused(() => h.post('/v1/offers', { ...offer, [field]: `a${NUL}b` }), field, field);
    }
  });

  it('in rule strings: a 422 naming the JSON path', async () => {
    const rule = { '==': [{ var: 'email' }, `a${NUL}b`] };
    await refused(() => h.post('/v1/segments', { name: 'nul', rule }), 'rule.==.1');
    await refused(
      () => h.post('/v1/offers', { name: 'o', title: 't', url: 'https://shop.example/x', eligibility: rule }),
      'eligibility.==.1',
    );
    await refused(() => h.post('/v1/segments', { name: 'nul', rule: { [`a${NUL}`]: [] } }), /^rule\./);
  });

  it('in query filters: a 422 naming the parameter', async () => {
    const problem = await refused(() => h.get(`/v1/offers?category=a${encodeURIComponent(NUL)}`), 'category');
    expect(problem.errors[0].in).toBe('query');
    await refused(() => h.get(`/v1/customers?email=${encodeURIComponent(NUL)}`), 'email');
  });

  it('in the UI customer search: no one is found, never a 500', async () => {
    const { session } = await signInToUi(h);
    const res = await h.app.request(`/ui/customers?q=nul${encodeURIComponent(NUL)}`, {
      headers: { cookie: session },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain('nul@example.com');
  });

  it('in a purchases import: a row error naming the column, and the import finishes', async () => {
    const csv = [
      'external_line_id,customer_external_id,amount,purchased_at,sku',
      'nul-1,nul-c,10.00,2025-01-01T00:00:00Z,ok',
      `nul-2,nul-c,11.00,2025-01-01T00:00:00Z,bad${NUL}sku`,
      'nul-3,nul-c,12.00,2025-01-01T00:00:00Z,ok',
    ].join('\n');
    const res = await h.request('POST', '/v1/imports?kind=purchases&filename=nul.csv', {
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(202);
    const { id } = await json(res);
    await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, id);
    const [row] = await h.db
      .sql`select status, rows_done, rows_created, rows_failed from imports where id = ${id}`;
    expect(row).toMatchObject({ status: 'done', rows_done: 3, rows_created: 2, rows_failed: 1 });
    const errors = await h.db.sql`select line, "column", reason from import_errors where import_id = ${id}`;
    expect(errors).toEqual([{ line: 3, column: 'sku', reason: expect.stringMatching(/NUL/) }]);
    const lines = await h.db
      .sql`select external_line_id from purchases where external_line_id like 'nul-%' order by 1`;
    expect(lines.map((l) => l.external_line_id)).toEqual(['nul-1', 'nul-3']);
  });

  it('in an import header: the report shows it, and the import still ends', async () => {
    const upload = async (csv: string) => {
      const res = await h.request('POST', '/v1/imports?kind=purchases&filename=header.csv', {
        body: csv,
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.status).toBe(202);
      const { id } = await json(res);
      await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, id);
      const [row] = await h.db.sql`select status, error from imports where id = ${id}`;
      const errors = await h.db.sql`select line, "column", reason from import_errors where import_id = ${id}`;
      return { row, errors };
    };
    // A column the import does not read, named with a NUL, and a NUL in it: the line is imported.
    const extra = await upload(
      `external_line_id,customer_external_id,amount,purchased_at,no${NUL}te\nhdr-1,nul-c,1.00,2025-01-01,a${NUL}b\n`,
    );
    expect(extra.row).toMatchObject({ status: 'done' });
    expect(extra.errors).toEqual([]);
    expect(await h.db.sql`select 1 from purchases where external_line_id = 'hdr-1'`).toHaveLength(1);
    // A header whose required columns cannot be found: the import fails, quoting it.
    const unmapped = await upload(`li${NUL}ne,amount\nx,1\n`);
    expect(unmapped.row).toMatchObject({ status: 'failed', error: expect.stringContaining('li\uFFFDne') });
  });
});

describe('templates that cannot render', () => {
  const template = (body: string) => ({ name: `t-${Math.random()}`, subject: 'Hi', mjml: mjml(body) });

  it('an unknown or internal helper in the MJML is refused at save', async () => {
    for (const body of [
      '{{helperMissing}}',
      '{{blockHelperMissing}}',
      '{{log}}',
      '{{#helperMissing}}x{{/helperMissing}}',
      '{{lookup}}',
    ]) {
      await refused(() => h.post('/v1/templates', template(body)), 'mjml', body);
    }
  });

  it('a new version that cannot render is refused and the template keeps its latest version', async () => {
    const created = await json(await h.post('/v1/templates', template('Hello')));
    await refused(() => h.patch(`/v1/templates/${created.id}`, { mjml: mjml('{{helperMissing}}') }), 'mjml');
    const preview = await h.post(`/v1/templates/${created.id}/preview`, { data: {} });
    expect(preview.status).toBe(200);
  });

  it('5,000 nested <div> in mj-text are a 422 at save', async () => {
    const deep = `${'<div>'.repeat(5_000)}deep${'</div>'.repeat(5_000)}`;
    const problem = await refused(() => h.post('/v1/templates', template(deep)), 'mjml');
    expect(problem.errors[0].message).toMatch(/nest/);
  });

  it('HTML nested 5,000 deep at send (from data) does not overflow the text part', () => {
    // A triple-stash may bring HTML from data into a render whose text part is made from it.
    const deep = `${'<div>'.repeat(5_000)}deep${'</div>'.repeat(5_000)}`;
    expect(htmlToText(`<p>Hello</p>${deep}`)).toContain('Hello');
  });
});
