import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
const ids: number[] = [];

beforeAll(async () => {
  h = await createHarness();
  const sql = h.deps.sql;
  for (let i = 0; i < 12; i++) {
    const [row] = await sql<{ id: number }[]>`
      insert into customers (external_id, email, locale, preferred_categories)
      values (${`s${i}`}, ${`s${i}@example.com`}, ${i % 2 ? 'de' : 'fr'}, ${i % 3 ? '{wine}' : '{}'}) returning id`;
    ids.push(row?.id as number);
    await sql`insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
      values (${`p${i}`}, ${row?.id as number}, 'garden', ${i * 30}, now() - make_interval(days => ${i * 10}::int))`;
  }
});
afterAll(async () => h.close());

describe('rules', () => {
  it('evaluates a rule against data', async () => {
    const res = await h.post('/v1/rules/evaluate', { rule: { '+': [{ var: 'a' }, 2] }, data: { a: 40 } });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ result: 42 });
  });

  it('names the JSON path of an unknown operator', async () => {
    const res = await h.post('/v1/rules/evaluate', { rule: { and: [true, { nope: [] }] }, data: {} });
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([
      { path: 'rule.and.1.nope', message: 'unknown operator "nope"' },
    ]);
  });

  it('reports the kind of an error raised by the rule', async () => {
    const res = await h.post('/v1/rules/evaluate', { rule: { throw: 'Out of stock' } });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await json(res)).toMatchObject({ kind: 'Out of stock', status: 422 });
  });

  it('rejects 10,000-deep nesting with a 4xx', async () => {
    const body = `{"rule":${'{"!":['.repeat(10_000)}true${']}'.repeat(10_000)},"data":{}}`;
    const res = await h.post('/v1/rules/evaluate', body, { headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].message).toMatch(/nested more than/);
  });

  it('rejects a 1 MB rule with a 4xx', async () => {
    const rule = { in: [{ var: 'locale' }, Array.from({ length: 100_000 }, (_, i) => `l${i}`)] };
    const res = await h.post('/v1/rules/evaluate', { rule, data: {} });
    expect([413, 422]).toContain(res.status);
  });

  it('shows a customer context and keeps it from integrators', async () => {
    const res = await h.get(`/v1/customers/${ids[3]}/context`);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id: ids[3], total_spent: 90, spend_by_category: { garden: 90 } });
    expect((await h.get(`/v1/customers/${ids[3]}/context`, { role: 'integrator' })).status).toBe(403);
    expect((await h.get('/v1/customers/999999/context')).status).toBe(404);
  });
});

describe('segments', () => {
  it('previews a translatable rule in SQL and another in process, with the same answer', async () => {
    const sqlRule = { and: [{ '>=': [{ var: 'total_spent' }, 150] }, { '==': [{ var: 'locale' }, 'de'] }] };
    const streamRule = {
      and: [{ '>=': [{ spent_in: ['garden', 10_000] }, 150] }, { '==': [{ var: 'locale' }, 'de'] }],
    };
    const bySql = await json(await h.post('/v1/segments/preview', { rule: sqlRule }));
    const byStream = await json(await h.post('/v1/segments/preview', { rule: streamRule }));
    expect(bySql).toMatchObject({ count: 4, evaluation: 'sql' });
    expect(byStream).toMatchObject({ count: 4, evaluation: 'stream' });
    expect(bySql.sample.map((c: { id: number }) => c.id)).toEqual([ids[5], ids[7], ids[9], ids[11]]);
    // The same customers; `why` names each rule's own conditions.
    const card = ({ why: _why, ...rest }: { why: string[] }) => rest;
    expect(byStream.sample.map(card)).toEqual(bySql.sample.map(card));
    expect(byStream.sample[0].why).toEqual([expect.stringMatching(/^spent \d+ in garden/), 'locale is de']);
  });

  it('creates, reads, pages, changes and deletes a segment', async () => {
    const created = await h.post('/v1/segments', {
      name: 'Wine lovers',
      description: 'Prefer wine',
      rule: { in: ['wine', { var: 'preferred_categories' }] },
    });
    expect(created.status).toBe(201);
    const segment = await json(created);
    expect(segment).toMatchObject({ name: 'Wine lovers', version: 1, evaluation: 'sql' });

    const first = await json(await h.get(`/v1/segments/${segment.id}/customers?limit=5`));
    expect(first.data).toHaveLength(5);
    const second = await json(
      await h.get(`/v1/segments/${segment.id}/customers?limit=5&cursor=${first.next_cursor}`),
    );
    expect(second.next_cursor).toBeNull();
    const wine = ids.filter((_, i) => i % 3 !== 0);
    expect([...first.data, ...second.data].map((c: { id: number }) => c.id)).toEqual(wine);

    const patched = await h.patch(`/v1/segments/${segment.id}`, { rule: { purchased_in: ['garden', 25] } });
    expect(await json(patched)).toMatchObject({ version: 2, evaluation: 'sql' });
    const recent = await json(await h.get(`/v1/segments/${segment.id}/customers`));
    expect(recent.data.map((c: { id: number }) => c.id)).toEqual(ids.slice(0, 3));

    const list = await json(await h.get('/v1/segments', { role: 'analyst' }));
    expect(list.data.map((s: { id: number }) => s.id)).toContain(segment.id);
    expect((await h.get(`/v1/segments/${segment.id}/customers`, { role: 'analyst' })).status).toBe(403);

    expect((await h.delete(`/v1/segments/${segment.id}`)).status).toBe(204);
    expect((await h.get(`/v1/segments/${segment.id}`)).status).toBe(404);
  });

  it('refuses a bad rule or unknown field without writing', async () => {
    const bad = await h.post('/v1/segments', { name: 'x', rule: { '>': [{ var: 'total_spent' }] } });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('rule.>');
    const unknown = await h.post('/v1/segments', { name: 'x', rule: true, colour: 'red' });
    expect(unknown.status).toBe(422);
    const missing = await h.post('/v1/segments', { name: 'x' });
    expect(missing.status).toBe(422);
    const rows = await h.deps.sql<
      { count: number }[]
    >`select count(*)::int as count from segments where name = 'x'`;
    expect(rows[0]?.count).toBe(0);
  });
});
