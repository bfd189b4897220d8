import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  const res = await h.post('/v1/attributes', { key: 'loyalty_tier', type: 'string' });
  expect(res.status).toBe(201);
  await h.post('/v1/attributes', { key: 'shoe_size', type: 'number' });
  await h.post('/v1/attributes', { key: 'member_since', type: 'date' });
});
afterAll(async () => h.close());

const count = async (table: string) => {
  const [row] = await h.db.sql.unsafe(`select count(*)::int as n from ${table}`);
  return row!.n as number;
};

describe('POST /v1/customers (upsert by external_id)', () => {
  it('creates (201), then updates only the fields sent (200)', async () => {
    const created = await h.post('/v1/customers', {
      external_id: 'c-1',
      email: 'Ana@Example.com',
      first_name: 'Ana',
      birth_date: '1985-04-12',
      address: { city: 'Lyon', country: 'FR' },
      family: [{ relation: 'child', name: 'Leo', birth_date: '2015-06-01' }],
      preferred_categories: ['shoes'],
      hobbies: ['hiking'],
      social_handles: { instagram: '@ana' },
      attributes: { loyalty_tier: 'gold', shoe_size: 38 },
      consents: { marketing_email: true },
    });
    expect(created.status).toBe(201);
    const a = await json(created);
    expect(a).toMatchObject({
      external_id: 'c-1',
      email: 'Ana@Example.com',
      birth_date: '1985-04-12',
      address: { city: 'Lyon', country: 'FR' },
      attributes: { loyalty_tier: 'gold', shoe_size: 38 },
      erased_at: null,
    });
    expect(typeof a.id).toBe('number');

    const updated = await h.post('/v1/customers', {
      external_id: 'c-1',
      last_name: 'Silva',
      first_name: null,
      attributes: { shoe_size: null, member_since: '2020-01-01' },
      consents: { marketing_email: true },
    });
    expect(updated.status).toBe(200);
    const b = await json(updated);
    expect(b.id).toBe(a.id);
    expect(b).toMatchObject({
      last_name: 'Silva',
      first_name: null,
      email: 'Ana@Example.com',
      hobbies: ['hiking'],
      attributes: { loyalty_tier: 'gold', member_since: '2020-01-01' },
    });
    expect(b.attributes).not.toHaveProperty('shoe_size');
    // The same consent twice is one ledger row: the shorthand appends changes only.
    const consents = await json(await h.get(`/v1/customers/${a.id}/consents`));
    expect(consents.data).toHaveLength(1);
    expect(consents.current.marketing_email).toMatchObject({ granted: true, source: 'customer_upsert' });
  });

  it('rejects unknown fields, undeclared or mistyped attributes, naming the field', async () => {
    const res = await h.post('/v1/customers', { external_id: 'c-x', nickname: 'x' });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await json(res)).errors).toContainEqual(expect.objectContaining({ path: 'nickname' }));

    const attr = await h.post('/v1/customers', {
      external_id: 'c-x',
      attributes: { nope: 1, shoe_size: 'big' },
    });
    expect(attr.status).toBe(422);
    const paths = (await json(attr)).errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(['attributes.nope', 'attributes.shoe_size']);
    expect(await count("customers where external_id = 'c-x'")).toBe(0);
  });

  it('reads, patches, lists with filters and cursors', async () => {
    const { id } = await json(
      await h.post('/v1/customers', { external_id: 'c-2', email: 'bob@example.com' }),
    );
    const got = await h.get(`/v1/customers/${id}`);
    expect(got.status).toBe(200);
    expect((await json(got)).email).toBe('bob@example.com');

    const patched = await h.patch(`/v1/customers/${id}`, {
      occupation: 'baker',
      preferences: { channel: 'sms' },
    });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({
      occupation: 'baker',
      preferences: { channel: 'sms' },
      email: 'bob@example.com',
    });

    expect((await h.patch(`/v1/customers/${id}`, {})).status).toBe(422);
    expect((await h.patch('/v1/customers/999999', { occupation: 'x' })).status).toBe(404);
    const taken = await h.patch(`/v1/customers/${id}`, { external_id: 'c-1' });
    expect(taken.status).toBe(409);

    const byEmail = await json(await h.get('/v1/customers?email=BOB@EXAMPLE.COM'));
    expect(byEmail.data.map((c: { id: number }) => c.id)).toEqual([id]);

    for (let i = 0; i < 3; i++) await h.post('/v1/customers', { external_id: `page-${i}` });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.get(`/v1/customers?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      const body = await json(res);
      seen.push(...body.data.map((c: { id: number }) => c.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(seen.length).toBe(await count('customers'));

    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await json(await h.get(`/v1/customers?updated_since=${future}`))).data).toEqual([]);
    const bad = await h.get('/v1/customers?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    expect((await json(bad)).errors[0].path).toBe('cursor');
  });

  it('audits reads and changes with the key and request id', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'c-audit' }));
    const res = await h.get(`/v1/customers/${id}`);
    const rows = await h.db.sql`
      select action, api_key_id, request_id from audit_log where customer_id = ${id} order by id`;
    expect(rows.map((r) => r.action)).toEqual(['customer.create', 'customer.read']);
    expect(rows[1]!.request_id).toBe(res.headers.get('x-request-id'));
    expect(rows[1]!.api_key_id).toBeTypeOf('number');
  });

  it('erases: clears personal fields, keeps the row under a pseudonym, refuses to change it', async () => {
    const { id } = await json(
      await h.post('/v1/customers', {
        external_id: 'c-erase',
        email: 'gone@example.com',
        first_name: 'Gone',
      }),
    );
    await h.post(
      `/v1/customers/${id}/consents`,
      { purpose: 'profiling', granted: true, source: 'web' },
      { peer: '203.0.113.9' },
    );
    await h.post(`/v1/customers/${id}/interactions`, { kind: 'note', text: 'likes red', author: 'me' });
    expect((await h.delete(`/v1/customers/${id}`, { role: 'sales' })).status).toBe(403);
    const res = await h.delete(`/v1/customers/${id}`);
    expect(res.status).toBe(204);
    const after = await json(await h.get(`/v1/customers/${id}`));
    expect(after).toMatchObject({ email: null, first_name: null, external_id: `erased:${id}` });
    expect(after.erased_at).not.toBeNull();
    const [consent] = await h.db.sql`select ip from consents where customer_id = ${id}`;
    expect(consent!.ip).toBeNull();
    const [note] = await h.db
      .sql`select text from contact_events where customer_id = ${id} and kind = 'note'`;
    expect(note!.text).toBeNull();
    expect(await count('suppressions')).toBe(1);
    // The ERP may send the person again: that is a new customer (the planner suppresses the address).
    const again = await h.post('/v1/customers', { external_id: 'c-erase', email: 'back@example.com' });
    expect(again.status).toBe(201);
    expect((await json(again)).id).not.toBe(id);
    expect((await h.patch(`/v1/customers/${id}`, { first_name: 'x' })).status).toBe(409);
    expect((await h.delete('/v1/customers/999999')).status).toBe(404);
  });
});

describe('POST /v1/customers/batch', () => {
  it('upserts a JSON array and answers per row', async () => {
    await h.post('/v1/customers', { external_id: 'b-0', email: 'b0@example.com' });
    const rows = Array.from({ length: 50 }, (_, i) => ({ external_id: `b-${i}`, first_name: `N${i}` }));
    const res = await h.post('/v1/customers/batch', rows);
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.created).toBe(49);
    expect(body.updated).toBe(1);
    expect(body.data[0]).toMatchObject({ index: 0, external_id: 'b-0', status: 'updated' });
    expect(body.data[49]).toMatchObject({ index: 49, external_id: 'b-49', status: 'created' });
    const [b0] = await h.db.sql`select email, first_name from customers where external_id = 'b-0'`;
    expect(b0).toEqual({ email: 'b0@example.com', first_name: 'N0' });
  });

  it('reads NDJSON, and rows with different field sets', async () => {
    const ndjson = [
      JSON.stringify({ external_id: 'n-1', email: 'n1@example.com' }),
      '',
      JSON.stringify({ external_id: 'n-2', hobbies: ['chess'], consents: { marketing_email: false } }),
    ].join('\n');
    const res = await h.post('/v1/customers/batch', ndjson, {
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(res.status).toBe(201);
    expect((await json(res)).data.map((r: { status: string }) => r.status)).toEqual(['created', 'created']);
    const [n2] = await h.db.sql`select hobbies from customers where external_id = 'n-2'`;
    expect(n2!.hobbies).toEqual(['chess']);
  });

  it('rejects the whole batch listing every bad row by index; nothing written', async () => {
    const before = await count('customers');
    const rows = [
      { external_id: 'v-1' },
      { external_id: 'v-2', email: 'not-an-email' },
      { external_id: 'v-3', attributes: { undeclared: 1 } },
      { external_id: 'v-1' },
      { email: 'x@example.com' },
    ];
    const res = await h.post('/v1/customers/batch', rows);
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.errors.map((e: { index: number; path: string }) => [e.index, e.path])).toEqual([
      [1, '1.email'],
      [2, '2.attributes.undeclared'],
      [3, '3.external_id'],
      [4, '4.external_id'],
    ]);
    expect(body.detail).toMatch(/4 row\(s\)/);
    expect(await count('customers')).toBe(before);
  });

  it('rolls back chunks already written when a later row is bad', async () => {
    const before = await count('customers');
    const rows = Array.from({ length: 4500 }, (_, i) => ({ external_id: `chunk-${i}` }));
    rows[4400] = { external_id: 'chunk-4400', email: 'nope' } as (typeof rows)[number];
    const res = await h.post('/v1/customers/batch', rows);
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([
      { index: 4400, path: '4400.email', message: expect.any(String) },
    ]);
    expect(await count('customers')).toBe(before);
  });

  it('takes an erased customer sent again as a new customer: one erasure never blocks an ERP batch', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'b-erased' }));
    expect((await h.delete(`/v1/customers/${id}`)).status).toBe(204);
    const res = await h.post('/v1/customers/batch', [
      { external_id: 'b-fresh' },
      { external_id: 'b-erased' },
    ]);
    expect(res.status).toBe(201);
    expect((await json(res)).data.map((r: { status: string }) => r.status)).toEqual(['created', 'created']);
    expect(await count(`customers where id = ${id} and external_id = 'erased:${id}'`)).toBe(1);
  });

  it('rejects bad NDJSON lines, non-arrays, empty and oversized batches', async () => {
    const bad = await h.post('/v1/customers/batch', '{"external_id":"z"}\n{oops', {
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).errors[0].line).toBe(2);
    expect((await h.post('/v1/customers/batch', { external_id: 'z' })).status).toBe(422);
    expect((await h.post('/v1/customers/batch', [])).status).toBe(422);
    const many = Array.from({ length: 10_001 }, (_, i) => ({ external_id: `m-${i}` }));
    expect((await h.post('/v1/customers/batch', many)).status).toBe(422);
    expect((await h.post('/v1/customers/batch', [{ external_id: 'z' }], { role: 'sales' })).status).toBe(403);
  });
});

describe('attributes registry', () => {
  it('lists declared attributes; only admins declare; sensitive needs a special category; no duplicates', async () => {
    const list = await json(await h.get('/v1/attributes', { role: 'marketer' }));
    expect(list.data.map((a: { key: string }) => a.key)).toContain('loyalty_tier');
    expect((await h.post('/v1/attributes', { key: 'x', type: 'string' }, { role: 'marketer' })).status).toBe(
      403,
    );
    const sensitive = await h.post('/v1/attributes', { key: 'diabetic', type: 'boolean', sensitive: true });
    expect(sensitive.status).toBe(422);
    expect((await json(sensitive)).errors[0].path).toBe('category');
    const ok = await h.post('/v1/attributes', {
      key: 'diabetic',
      type: 'boolean',
      sensitive: true,
      category: 'health',
      purpose: 'health_offers',
    });
    expect(ok.status).toBe(201);
    expect((await h.post('/v1/attributes', { key: 'diabetic', type: 'boolean' })).status).toBe(409);
  });
});
