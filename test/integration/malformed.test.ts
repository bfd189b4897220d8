import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { PROFILE_COLUMNS } from '../../src/customers/schema.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// A property test over the write endpoints: random malformed requests each get a 4xx
// problem+json answer, and no table changes by a single byte.

const BODY_LIMIT = 64 * 1024;
let h: Harness;
let customerId: number;
let tablesHashSql: string;

beforeAll(async () => {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  h = await createHarness({ config });
  const res = await h.post('/v1/customers', { external_id: 'mal-c', email: 'mal@example.com' });
  customerId = (await json(res)).id;
  await h.post('/v1/purchases', {
    external_line_id: 'mal-line',
    customer_external_id: 'mal-c',
    amount: 10,
    purchased_at: '2025-01-01T00:00:00Z',
  });
  const tables = await h.db.sql<{ name: string }[]>`
    select tablename as name from pg_tables where schemaname = 'public' order by tablename`;
  // api_keys.last_used_at moves when a key is used, which is not a write by the request.
  tablesHashSql = tables
    .map(({ name }) => {
      const row = name === 'api_keys' ? '(t.id, t.name, t.role, t.hash, t.revoked_at)' : 't';
      return `select '${name}' as name, md5(coalesce(string_agg(${row}::text, ',' order by ${row}::text), '')) as hash from "${name}" t`;
    })
    .join(' union all ');
});
afterAll(async () => h.close());

const snapshot = async () => {
  const rows = await h.db.sql.unsafe(tablesHashSql);
  return Object.fromEntries(rows.map((r) => [r.name, r.hash]));
};

interface Malformed {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  label: string;
}

/** Every key the customer input accepts; a key outside it must be rejected. */
const CUSTOMER_FIELDS = new Set<string>(['external_id', ...PROFILE_COLUMNS, 'consents']);

const longString = (min: number) => fc.integer({ min, max: min + 500 }).map((n) => 'x'.repeat(n));
const nonJson = fc
  .oneof(
    fc.string(),
    fc.json().map((s) => s.slice(0, -1)),
    fc.json().map((s) => `${s}}`),
    fc.json().map((s) => `{${s}`),
    fc.constantFrom('{"a":1,}', "{'a':1}", 'NaN', '{"a":undefined}', '[1,2', '\u0000', ''),
  )
  .filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  });
const deep = fc.integer({ min: 50, max: 3000 }).map((depth) => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
});
const unknownKey = (known: Set<string>) =>
  fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !known.has(k) && k !== '__proto__');
const notA = (pred: (v: unknown) => boolean) => fc.jsonValue().filter((v) => !pred(v));
const isString = (v: unknown) => typeof v === 'string';

/** A customer row with exactly one field made invalid. */
const badCustomer = (base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> =>
  fc.oneof(
    fc
      .record({ external_id: fc.oneof(notA(isString), fc.constant(''), longString(201)) })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        email: fc.oneof(
          notA((v) => v === null || v === undefined),
          fc.string().filter((s) => !s.includes('@')),
        ),
      })
      .filter((f) => typeof f.email !== 'string' || !f.email.includes('@'))
      .map((f) => ({ ...base, ...f })),
    fc
      .record({ first_name: fc.oneof(longString(201), fc.integer(), fc.constant('a\u0000b'), deep) })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        birth_date: fc.oneof(
          fc.string().filter((s) => !/^\d{4}-\d{2}-\d{2}$/.test(s)),
          fc.integer(),
          fc.constant('1985-13-45'),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({ timezone: fc.constantFrom('Not/AZone', 'Mars/Olympus', 1, true) })
      .map((f) => ({ ...base, ...f })),
    fc.record({ locale: fc.constantFrom('!!', 'en_US_bad_', '12345', '') }).map((f) => ({ ...base, ...f })),
    fc
      .record({
        address: fc.oneof(
          fc.string(),
          fc.integer(),
          fc.array(fc.jsonValue()),
          deep.map((d) => ({ line1: d })),
          fc.constant({ planet: 'Mars' }),
          fc.constant({ country: 'france' }),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        family: fc.oneof(
          fc.string(),
          fc.constant([{ relation: '' }]),
          fc.constant([{ relation: 'son', age: 3 }]),
          fc.constant([1]),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        preferences: fc.oneof(
          deep.map((d) => ({ k: { d } })),
          fc.constant({ 'Bad Key': 1 }),
          fc.string(),
          fc.constant([1]),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        preferred_categories: fc.oneof(
          fc.string(),
          fc.array(fc.integer(), { minLength: 1 }),
          fc.constant(['']),
          deep,
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({ hobbies: fc.array(longString(101), { minLength: 1, maxLength: 2 }) })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        social_handles: fc.oneof(
          fc.constant({ instagram: 1 }),
          fc.constant({ 'NOT A SLUG': 'x' }),
          fc.constant('x'),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    // The registry is empty here, so any attribute key is undeclared.
    fc
      .record({
        attributes: fc.oneof(
          fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), fc.integer(), {
            minKeys: 1,
            maxKeys: 3,
          }),
          fc.constant('x'),
          fc.constant({ 'Bad-Key!': 1 }),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc
      .record({
        consents: fc.oneof(
          fc.constant({ marketing_email: 'yes' }),
          fc.constant({ 'Not A Purpose': true }),
          fc.constant(true),
          fc.constant({ profiling: null }),
        ),
      })
      .map((f) => ({ ...base, ...f })),
    fc.tuple(unknownKey(CUSTOMER_FIELDS), fc.jsonValue()).map(([k, v]) => ({ ...base, [k]: v })),
  );

const jsonRequest =
  (method: string, path: string, label: string) =>
  (body: unknown): Malformed => ({
    method,
    path,
    body: JSON.stringify(body),
    contentType: 'application/json',
    label,
  });

const customerBase = { external_id: 'mal-new', email: 'new@example.com' };
const lineBase = {
  external_line_id: 'mal-new-line',
  customer_external_id: 'mal-c',
  amount: 12.5,
  purchased_at: '2025-02-01T00:00:00Z',
};
const LINE_FIELDS = new Set([
  'external_line_id',
  'customer_external_id',
  'customer_id',
  'order_ref',
  'sku',
  'category',
  'quantity',
  'kind',
  'amount',
  'currency',
  'purchased_at',
  'source',
]);
const badLine = fc.oneof(
  fc
    .record({ amount: fc.oneof(fc.string(), fc.constant(1e13), fc.constant(1.234), fc.constant(null)) })
    .map((f) => ({ ...lineBase, ...f })),
  fc
    .record({ quantity: fc.oneof(fc.constant(0), fc.integer({ max: -1 }), fc.string(), fc.constant(1e10)) })
    .map((f) => ({ ...lineBase, ...f })),
  fc
    .record({ currency: fc.oneof(fc.constantFrom('eur', 'XYZ', 'EURO', ''), fc.integer()) })
    .map((f) => ({ ...lineBase, ...f })),
  fc
    .record({
      purchased_at: fc.oneof(
        fc.constantFrom('yesterday', '2025-02-30', '2999-01-01T00:00:00Z', '2025-01-01'),
        fc.integer(),
      ),
    })
    .map((f) => ({ ...lineBase, ...f })),
  fc
    .record({
      customer_external_id: fc
        .string({ minLength: 1, maxLength: 30 })
        .filter((s) => s !== 'mal-c' && !s.includes('\u0000')),
    })
    .map((f) => ({ ...lineBase, ...f })),
  fc.constant({ ...lineBase, customer_id: 1 }),
  fc.constant({ external_line_id: 'x', amount: 1, purchased_at: '2025-01-01T00:00:00Z' }),
  fc
    .record({ external_line_id: fc.oneof(fc.constant(''), longString(201), fc.integer(), fc.constant(null)) })
    .map((f) => ({ ...lineBase, ...f })),
  fc.tuple(unknownKey(LINE_FIELDS), fc.jsonValue()).map(([k, v]) => ({ ...lineBase, [k]: v })),
);

const goodRow = (i: number) => ({ external_id: `mal-good-${i}`, first_name: 'Good' });

/** A batch with at least one bad row, a duplicate, or NDJSON garbage. */
const badBatch = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 20 }), badCustomer(customerBase))
    .map(([n, bad]) =>
      jsonRequest(
        'POST',
        '/v1/customers/batch',
        'batch with a bad row',
      )([...Array.from({ length: n }, (_, i) => goodRow(i)), bad]),
    ),
  fc
    .integer({ min: 1, max: 20 })
    .map((n) =>
      jsonRequest(
        'POST',
        '/v1/customers/batch',
        'batch with a duplicate',
      )([...Array.from({ length: n }, (_, i) => goodRow(i)), goodRow(0)]),
    ),
  fc
    .tuple(
      fc.integer({ min: 0, max: 10 }),
      nonJson.filter((s) => s.trim() !== '' && !s.includes('\n')),
    )
    .map(([n, garbage]) => ({
      method: 'POST',
      path: '/v1/customers/batch',
      body: [...Array.from({ length: n }, (_, i) => JSON.stringify(goodRow(i))), garbage].join('\n'),
      contentType: 'application/x-ndjson',
      label: 'NDJSON garbage',
    })),
  fc.tuple(fc.integer({ min: 0, max: 10 }), badCustomer(customerBase)).map(([n, bad]) => ({
    method: 'POST',
    path: '/v1/customers/batch',
    body: [...Array.from({ length: n }, (_, i) => goodRow(i)), bad].map((r) => JSON.stringify(r)).join('\n'),
    contentType: 'application/x-ndjson',
    label: 'NDJSON bad row',
  })),
  fc
    .oneof(
      fc.constant({}),
      fc.constant(null),
      fc.integer(),
      fc.string(),
      fc.constant([]),
      deep.map((d) => [d]),
    )
    .map(jsonRequest('POST', '/v1/customers/batch', 'batch of the wrong shape')),
);

const consentBase = { purpose: 'marketing_email', granted: true, source: 'web' };
const badConsent = fc.oneof(
  fc
    .record({
      purpose: fc.oneof(fc.constantFrom('Bad Purpose', '', '1abc'), fc.integer(), fc.constant(null)),
    })
    .map((f) => ({ ...consentBase, ...f })),
  fc
    .record({ granted: fc.oneof(fc.constantFrom('yes', 'true', 1, 0, null)) })
    .map((f) => ({ ...consentBase, ...f })),
  fc
    .record({ source: fc.oneof(fc.constant(''), longString(101), fc.constant(null)) })
    .map((f) => ({ ...consentBase, ...f })),
  fc.record({ text_version: fc.oneof(longString(101), fc.integer()) }).map((f) => ({ ...consentBase, ...f })),
  fc.constantFrom({ purpose: 'profiling' }, { granted: true, source: 'x' }),
  fc
    .tuple(unknownKey(new Set(['purpose', 'granted', 'source', 'text_version'])), fc.jsonValue())
    .map(([k, v]) => ({ ...consentBase, [k]: v })),
);

const interactionBase = { kind: 'note', text: 'hello', author: 'me' };
const badInteraction = fc.oneof(
  fc
    .record({
      kind: fc.oneof(
        fc
          .string()
          .filter((s) => !['note', 'complaint', 'call', 'visit', 'social', 'email', 'meeting'].includes(s)),
        fc.integer(),
      ),
    })
    .map((f) => ({ ...interactionBase, ...f })),
  fc
    .record({ channel: fc.oneof(fc.constantFrom('pigeon', 'PHONE', ''), fc.constant(null)) })
    .map((f) => ({ ...interactionBase, ...f })),
  fc
    .record({ text: fc.oneof(fc.constant(''), longString(10_001), fc.constant(null), deep) })
    .map((f) => ({ ...interactionBase, ...f })),
  fc
    .record({ author: fc.oneof(fc.constant(''), longString(201), fc.integer()) })
    .map((f) => ({ ...interactionBase, ...f })),
  fc
    .record({ at: fc.constantFrom('now', '2999-01-01T00:00:00Z', '2025-01-01', 12) })
    .map((f) => ({ ...interactionBase, ...f })),
  fc
    .tuple(unknownKey(new Set(['kind', 'channel', 'text', 'author', 'at'])), fc.jsonValue())
    .map(([k, v]) => ({ ...interactionBase, [k]: v })),
);

const notAnObject = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.array(fc.integer()),
  deep.map((d) => [d]),
);

const badCursor = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.json().map((s) => Buffer.from(s).toString('base64url')),
  fc.constant(Buffer.from('{"id":-1}').toString('base64url')),
  fc.constant(Buffer.from('{"at":"2025-99-99T00:00:00.000000Z","id":1}').toString('base64url')),
);

const malformed = (id: () => number): fc.Arbitrary<Malformed> =>
  fc.oneof(
    badCustomer(customerBase).map(jsonRequest('POST', '/v1/customers', 'customer field')),
    notAnObject.map(jsonRequest('POST', '/v1/customers', 'customer not an object')),
    nonJson.map((body) => ({
      method: 'POST',
      path: '/v1/customers',
      body,
      contentType: 'application/json',
      label: 'bad JSON',
    })),
    badBatch,
    fc
      .oneof(badCustomer({ first_name: 'Patched' }), fc.constant({}))
      .map((b) => jsonRequest('PATCH', `/v1/customers/${id()}`, 'patch')(b)),
    fc
      .oneof(
        badLine,
        fc.array(badLine, { minLength: 1, maxLength: 5 }),
        fc.constant([lineBase, lineBase]),
        fc.constantFrom(null, 1, 'x', []),
      )
      .map(jsonRequest('POST', '/v1/purchases', 'purchase')),
    nonJson.map((body) => ({
      method: 'POST',
      path: '/v1/purchases',
      body,
      contentType: 'application/json',
      label: 'purchase bad JSON',
    })),
    fc
      .oneof(badConsent, notAnObject)
      .map((b) => jsonRequest('POST', `/v1/customers/${id()}/consents`, 'consent')(b)),
    fc
      .oneof(badInteraction, notAnObject)
      .map((b) => jsonRequest('POST', `/v1/customers/${id()}/interactions`, 'interaction')(b)),
    fc
      .record({
        path: fc.constantFrom('/v1/customers', '/v1/purchases', '/v1/customers/batch'),
        body: fc.string({ maxLength: 50 }),
      })
      .map(({ path, body }) => ({
        method: 'POST',
        path,
        body: body || 'x',
        contentType: 'text/plain',
        label: 'wrong content type',
      })),
    fc.constantFrom('/v1/customers', '/v1/customers/batch', '/v1/purchases').map((path) => ({
      method: 'POST',
      path,
      body: JSON.stringify([{ external_id: 'big', first_name: 'x'.repeat(BODY_LIMIT) }]),
      contentType: 'application/json',
      label: 'oversized body',
    })),
    badCursor.map((cursor) => ({
      method: 'GET',
      path: `${['/v1/customers', `/v1/customers/${id()}/timeline`, `/v1/customers/${id()}/purchases`][cursor.length % 3]}?cursor=${encodeURIComponent(cursor)}`,
      label: 'bad cursor',
    })),
  );

describe('malformed requests', () => {
  it('each gets a 4xx problem+json and the database is unchanged (≥ 1,000 runs)', async () => {
    const before = await snapshot();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        malformed(() => customerId),
        async (req) => {
          runs++;
          const res = await h.request(req.method, req.path, {
            ...(req.body !== undefined ? { body: req.body } : {}),
            headers: req.contentType ? { 'content-type': req.contentType } : {},
          });
          const where = `${req.label}: ${req.method} ${req.path} ${req.body?.slice(0, 300)}`;
          expect([400, 413, 415, 422], where).toContain(res.status);
          expect(res.headers.get('content-type'), where).toBe('application/problem+json');
          const problem = await json(res);
          expect(problem.status, where).toBe(res.status);
          if (res.status === 422) expect(problem.errors?.length, where).toBeGreaterThan(0);
          if (req.label === 'oversized body') expect(res.status, where).toBe(413);
          expect(await snapshot(), where).toEqual(before);
        },
      ),
      { numRuns: 1200 },
    );
    expect(runs).toBeGreaterThanOrEqual(1000);
  });

  it('a bad batch names every bad row by index and writes nothing', async () => {
    const before = await snapshot();
    const rows = [goodRow(0), { external_id: 1 }, goodRow(2), { ...goodRow(3), email: 'nope' }, goodRow(0)];
    const res = await h.post('/v1/customers/batch', rows);
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.errors.map((e: { index: number }) => e.index)).toEqual([1, 3, 4]);
    expect(body.errors.map((e: { path: string }) => e.path)).toEqual([
      '1.external_id',
      '3.email',
      '4.external_id',
    ]);
    expect(await snapshot()).toEqual(before);
  });
});

// Every operation of /openapi.json, so that routes added by any module are covered as they land:
// random query parameters (declared and not, values with NUL, percent-encoding garbage, huge and
// odd numbers), odd path parameters, and bodies built from the operation's own schema with a NUL
// put into one of their strings. Nothing of that may be a 500.

interface Operation {
  method: string;
  path: string;
  query: string[];
  pathParams: string[];
  bodyTypes: string[];
  bodySchema: Schema | undefined;
}

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  example?: unknown;
  format?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  default?: unknown;
  minimum?: number;
}

let operations: Operation[] = [];
let components: Record<string, Schema> = {};

const NUL_STRINGS = ['a\u0000b', '\u0000', `${'x'.repeat(300)}\u0000`, '\u0000\u0000%00'];
/** Raw (already percent-encoded, or deliberately broken) query and path text. */
const RAW_GARBAGE = ['%00', 'a%00b', '%', '%zz', '%FF', '%ED%A0%80', '%C0%80', '%E2%82', '%25%00'];

/** A plausible value for a schema: its example, default or first enum value, else by type. */
function sample(schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return 'x';
  if (schema.$ref) return sample(components[schema.$ref.split('/').pop() as string], depth + 1);
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  const alternatives = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (alternatives && alternatives.length > 0) return sample(alternatives[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) out[key] = sample(value, depth + 1);
      return out;
    }
    case 'array':
      return [sample(schema.items, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum !== undefined ? Math.max(1, schema.minimum) : 1;
    case 'boolean':
      return true;
    case 'string':
      if (schema.format === 'date-time') return '2025-01-01T00:00:00Z';
      if (schema.format === 'date') return '2025-01-01';
      if (schema.format === 'email') return 'someone@example.com';
      if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com/x';
      return 'text';
    default:
      return 'x';
  }
}

/** Paths to every string (and object key) in a value, for putting a NUL there. */
function stringSlots(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringSlots(v, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => stringSlots(v, [...path, k]));
  return [];
}

function withNul(value: unknown, slot: (string | number)[] | undefined, nul: string): unknown {
  if (!slot || slot.length === 0)
    return typeof value === 'string' ? `${value}${nul}` : { [`k${nul}`]: value };
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  const [head, ...rest] = slot;
  copy[head as never] = withNul(copy[head as never], rest, nul);
  return copy;
}

const queryValue = fc.oneof(
  fc.constantFrom(...NUL_STRINGS).map(encodeURIComponent),
  fc.constantFrom(...RAW_GARBAGE),
  fc.constantFrom('', '-1', '0', '1e309', 'NaN', '99999999999999999999', '1.5', 'true', 'null', '[]', '{}'),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'x'.repeat(n)),
);
const pathValue = fc.constantFrom('1', '0', '-1', 'abc', '1.5', '99999999999999999999', ...RAW_GARBAGE);

const anyRequest = () =>
  fc
    .record({
      op: fc.constantFrom(...operations),
      params: fc.array(
        fc.tuple(fc.option(fc.nat(), { nil: undefined }), fc.string({ maxLength: 12 }), queryValue),
        {
          maxLength: 5,
        },
      ),
      pathParam: fc.oneof(fc.constant('1'), pathValue),
      slot: fc.nat(),
      nul: fc.constantFrom(...NUL_STRINGS),
      withBody: fc.boolean(),
    })
    .map(({ op, params, pathParam, slot, nul, withBody }) => {
      // Mostly the operation's own parameter names, sometimes any name.
      const query = params
        .map(([i, name, value]) => {
          const key =
            i !== undefined && op.query.length > 0
              ? op.query[i % op.query.length]!
              : encodeURIComponent(name);
          return `${key}=${value}`;
        })
        .join('&');
      const path = op.path.replace(/\{[^}]+\}/g, pathParam);
      const jsonBody = op.bodyTypes.includes('application/json');
      let body: string | undefined;
      let contentType: string | undefined;
      if (withBody && jsonBody) {
        const value = sample(op.bodySchema);
        const slots = stringSlots(value);
        body = JSON.stringify(withNul(value, slots.length > 0 ? slots[slot % slots.length] : undefined, nul));
        contentType = 'application/json';
      } else if (withBody && op.bodyTypes.includes('text/csv')) {
        body = `external_line_id,customer_external_id,amount,purchased_at\nl${nul},c,1,2025-01-01\n`;
        contentType = 'text/csv';
      }
      return { method: op.method, url: query ? `${path}?${query}` : path, body, contentType };
    });

describe('every operation in /openapi.json', () => {
  beforeAll(async () => {
    const doc = await json(await h.get('/openapi.json', { role: null }));
    components = doc.components?.schemas ?? {};
    operations = [];
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const params = (op.parameters ?? []) as { name: string; in: string }[];
        const content = op.requestBody?.content ?? {};
        operations.push({
          method: method.toUpperCase(),
          path,
          query: params.filter((p) => p.in === 'query').map((p) => p.name),
          pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
          bodyTypes: Object.keys(content),
          bodySchema: content['application/json']?.schema,
        });
      }
    }
  });

  const send = async (req: {
    method: string;
    url: string;
    body?: string | undefined;
    contentType?: string | undefined;
  }) => {
    const res = await h.request(req.method, req.url, {
      ...(req.body !== undefined ? { body: req.body } : {}),
      headers: req.contentType ? { 'content-type': req.contentType } : {},
    });
    const where = `${req.method} ${req.url.slice(0, 300)} ${req.body?.slice(0, 300) ?? ''}`;
    expect(res.status, where).toBeLessThan(500);
    if (res.status >= 400) expect(res.headers.get('content-type'), where).toBe('application/problem+json');
    await res.arrayBuffer();
    return res;
  };

  it('no query parameter, path parameter or NUL byte is a 500, on each of them', async () => {
    expect(operations.length).toBeGreaterThan(50);
    for (const op of operations) {
      const path = op.path.replace(/\{[^}]+\}/g, '1');
      // Each declared query parameter with a NUL, and with percent-encoding garbage.
      for (const name of op.query) {
        for (const value of [encodeURIComponent('a\u0000b'), '%ED%A0%80', '%'])
          await send({ method: op.method, url: `${path}?${name}=${value}` });
      }
      for (const value of ['%00', '%ED%A0%80'])
        await send({ method: op.method, url: op.path.replace(/\{[^}]+\}/g, value) });
      // The operation's own body shape with a NUL in each of its strings in turn.
      if (op.bodyTypes.includes('application/json')) {
        const value = sample(op.bodySchema);
        for (const slot of stringSlots(value).slice(0, 30)) {
          const res = await send({
            method: op.method,
            url: path,
            body: JSON.stringify(withNul(value, slot, 'a\u0000b')),
            contentType: 'application/json',
          });
          expect(res.status, `${op.method} ${op.path} NUL at ${slot.join('.')}`).toBeGreaterThanOrEqual(400);
        }
      }
    }
  }, 300_000);

  it('random query parameters and NUL-bearing bodies are never a 500 (≥ 1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(anyRequest(), async (req) => {
        await send(req);
      }),
      { numRuns: 1000 },
    );
  }, 300_000);
});
