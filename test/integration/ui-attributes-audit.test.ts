import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specialCategoryOf } from '../../src/privacy/categories.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The attribute registry edited (API and page): description and category, sensitive with its
// purpose, refused while a live rule reads the attribute undeclared; and the audit log's filters.

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const declare = async (key: string, extra: Record<string, unknown> = {}) => {
  const res = await h.post('/v1/attributes', { key, type: 'string', ...extra });
  expect(res.status).toBe(201);
};
const row = async (key: string) =>
  (await h.db.sql`select description, category, sensitive, purpose from attributes where key = ${key}`)[0];

const post = (path: string, session: string, fields: Record<string, string>) =>
  h.app.request(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
const get = (path: string, session: string) => h.app.request(path, { headers: { cookie: session } });

describe('PATCH /v1/attributes/{key}', () => {
  it('edits the description and category, then marks the attribute sensitive with its purpose', async () => {
    await declare('diet', { description: 'Food habits' });
    const edited = await h.patch('/v1/attributes/diet', {
      description: 'What they eat',
      category: 'lifestyle',
    });
    expect(edited.status).toBe(200);
    expect(await json(edited)).toMatchObject({
      key: 'diet',
      description: 'What they eat',
      category: 'lifestyle',
    });

    const sensitive = await h.patch('/v1/attributes/diet', { sensitive: true, category: 'health' });
    expect(sensitive.status).toBe(200);
    expect(await json(sensitive)).toMatchObject({
      sensitive: true,
      category: 'health',
      purpose: 'sensitive:health',
    });
    const own = await h.patch('/v1/attributes/diet', { purpose: 'health_offers' });
    expect(await json(own)).toMatchObject({ purpose: 'health_offers', description: 'What they eat' });
    const [entry] = await h.db.sql`
      select action, entity_id from audit_log where action = 'attribute.update' order by id desc limit 1`;
    expect(entry).toMatchObject({ action: 'attribute.update', entity_id: 'diet' });
  });

  it('answers 422 naming the field for bad input, 404 for an unknown key, 403 to a marketer; nothing changes', async () => {
    await declare('shoe_size', { description: 'EU size' });
    const before = await row('shoe_size');
    for (const [body, path] of [
      [{}, ''],
      [{ sensitive: true }, 'category'],
      [{ category: 'religion' }, 'sensitive'],
      [{ purpose: 'Not A Slug' }, 'purpose'],
      [{ description: 'x'.repeat(1001) }, 'description'],
      [{ type: 'number' }, 'type'],
      [{ sensitive: 'yes' }, 'sensitive'],
    ] as const) {
      const res = await h.patch('/v1/attributes/shoe_size', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = await json(res);
      expect(
        problem.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    expect((await h.patch('/v1/attributes/no_such_key', { description: 'x' })).status).toBe(404);
    expect(
      (await h.patch('/v1/attributes/shoe_size', { description: 'x' }, { role: 'marketer' })).status,
    ).toBe(403);
    expect(await row('shoe_size')).toEqual(before);
  });

  it('refuses to mark sensitive an attribute a live segment reads without its purpose, until it declares it', async () => {
    await declare('faith');
    const seg = await json(
      await h.post('/v1/segments', { name: 'Believers', rule: { '==': [{ var: 'attributes.faith' }, 'x'] } }),
    );
    const refused = await h.patch('/v1/attributes/faith', { sensitive: true, category: 'religion' });
    expect(refused.status).toBe(422);
    const problem = await json(refused);
    expect(problem.errors[0].path).toBe('sensitive');
    expect(problem.errors[0].message).toContain('Believers');
    expect(await row('faith')).toMatchObject({ sensitive: false, category: null });

    const declared = await h.patch(`/v1/segments/${seg.id}`, {
      rule: {
        and: [
          { in: ['sensitive:religion', { var: 'consents' }] },
          { '==': [{ var: 'attributes.faith' }, 'x'] },
        ],
      },
    });
    expect(declared.status).toBe(200);
    expect((await h.patch('/v1/attributes/faith', { sensitive: true, category: 'religion' })).status).toBe(
      200,
    );
    // Now the guard stands at the segment: dropping the purpose is refused there.
    const dropped = await h.patch(`/v1/segments/${seg.id}`, {
      rule: { '==': [{ var: 'attributes.faith' }, 'x'] },
    });
    expect(dropped.status).toBe(422);
  });

  it('whatever the edits, a stored attribute is sensitive exactly when its category is special, and then has a purpose', async () => {
    await declare('prop_attr');
    const categories = fc.constantFrom(null, 'lifestyle', 'health', 'politics', 'Health', '');
    const edit = fc.record(
      {
        description: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
        category: categories,
        sensitive: fc.boolean(),
        purpose: fc.constantFrom(null, 'health_offers', 'BAD PURPOSE'),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        for (const body of edits) {
          const before = await row('prop_attr');
          const res = await h.patch('/v1/attributes/prop_attr', body);
          expect([200, 422]).toContain(res.status);
          const after = await row('prop_attr');
          if (res.status === 422) expect(after).toEqual(before);
          expect(after!.sensitive).toBe(specialCategoryOf(after!.category) !== undefined);
          if (after!.sensitive) expect(after!.purpose).toMatch(/^[a-z]/);
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('/ui/attributes/{key} and /ui/audit', () => {
  it('edits an attribute from its page, shows a refused edit at its field and saves nothing', async () => {
    await declare('pet_name', { description: 'The pet' });
    const admin = await signInToUi(h, 'admin');
    const list = await (await get('/ui/attributes', admin.session)).text();
    expect(list).toContain('href="/ui/attributes/pet_name"');
    const form = await (await get('/ui/attributes/pet_name', admin.session)).text();
    expect(form).toContain('value="The pet"');

    const bad = await post('/ui/attributes/pet_name', admin.session, {
      _csrf: admin.csrf,
      description: 'Its name',
      category: 'health',
    });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(/id="f-sensitive"|class="field invalid"/);
    expect(await row('pet_name')).toMatchObject({ description: 'The pet', sensitive: false });

    const good = await post('/ui/attributes/pet_name', admin.session, {
      _csrf: admin.csrf,
      description: 'Its name',
      category: 'pets',
    });
    expect(good.status).toBe(200);
    expect(await good.text()).toContain('Saved pet_name.');
    expect(await row('pet_name')).toMatchObject({ description: 'Its name', category: 'pets' });

    expect((await get('/ui/attributes/nothing_here', admin.session)).status).toBe(404);
    const marketer = await signInToUi(h, 'marketer');
    expect((await get('/ui/attributes/pet_name', marketer.session)).status).toBe(403);
    const noCsrf = await post('/ui/attributes/pet_name', admin.session, { description: 'sneaky' });
    expect(noCsrf.status).toBe(403);
    expect(await row('pet_name')).toMatchObject({ description: 'Its name' });
  });

  it('filters the audit log by action and kind of object, and shows a bad filter without a 500', async () => {
    const admin = await signInToUi(h, 'admin');
    const byAction = await (await get('/ui/audit?action=attribute.update', admin.session)).text();
    expect(byAction).toContain('attribute.update');
    expect(byAction).not.toContain('attribute.create');
    const byEntity = await (await get('/ui/audit?entity=segment', admin.session)).text();
    expect(byEntity).toContain('segment.create');
    expect(byEntity).not.toContain('attribute.update');
    const bad = await get('/ui/audit?since=yesterday&customer_id=abc', admin.session);
    expect(bad.status).toBe(200);
    const html = await bad.text();
    expect(html).toContain('role="alert"');
    expect(html).toMatch(/since|customer_id/);
  });
});
