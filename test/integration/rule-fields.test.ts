import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/defaults.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let templateId: number;

beforeAll(async () => {
  h = await createHarness();
  const sql = h.deps.sql;
  expect((await h.post('/v1/attributes', { key: 'plan', type: 'string' })).status).toBe(201);
  expect(
    (
      await h.post('/v1/attributes', {
        key: 'condition',
        type: 'string',
        sensitive: true,
        category: 'health',
      })
    ).status,
  ).toBe(201);
  for (let i = 0; i < 6; i++) {
    const [row] = await sql<{ id: number }[]>`
      insert into customers (external_id, email, first_name, locale, address, attributes)
      values (${`f${i}`}, ${`f${i}@example.com`}, ${`Ann${i}`}, ${i % 2 ? 'de' : 'fr'},
        ${sql.json({ city: i < 4 ? 'Paris' : 'Lyon' })}, ${sql.json({ plan: i < 3 ? 'gold' : 'free', condition: 'x' })})
      returning id`;
    await sql`insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
      values (${`fp${i}`}, ${row?.id as number}, ${i < 4 ? 'garden' : 'books'}, ${i * 60},
        now() - make_interval(days => ${i * 20}::int))`;
  }
  await installDefaultTemplates(sql);
  const [t] = await sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t?.id as number;
});
afterAll(async () => h.close());

describe('GET /v1/rules/fields', () => {
  it('lists profile fields, attributes, aggregates and operators, with values and counts', async () => {
    const res = await h.get('/v1/rules/fields');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.scope).toBe('segment');
    const field = (path: string) => body.fields.find((f: { path: string }) => f.path === path);
    expect(field('total_spent')).toMatchObject({ type: 'number', group: 'Purchases' });
    expect(field('locale').values).toEqual([
      { value: 'de', count: 3 },
      { value: 'fr', count: 3 },
    ]);
    expect(field('address.city').values).toEqual([
      { value: 'Paris', count: 4 },
      { value: 'Lyon', count: 2 },
    ]);
    expect(field('categories_bought')).toMatchObject({
      type: 'string_array',
      values: [
        { value: 'garden', count: 4 },
        { value: 'books', count: 2 },
      ],
      values_complete: true,
    });
    expect(field('attributes.plan')).toMatchObject({
      type: 'string',
      values: [
        { value: 'free', count: 3 },
        { value: 'gold', count: 3 },
      ],
    });
    // A special category: marked, with the consent to add, and its values never listed.
    const sensitive = field('attributes.condition');
    expect(sensitive).toMatchObject({
      sensitive: true,
      purpose: 'sensitive:health',
      requires: { in: ['sensitive:health', { var: 'consents' }] },
    });
    expect(sensitive.values).toBeUndefined();
    const ops = body.operators.map((o: { op: string }) => o.op);
    expect(ops).toEqual(expect.arrayContaining(['purchased_in', 'spent_in', 'days_since']));
    expect(body.operators.find((o: { op: string }) => o.op === 'purchased_in').sentence).toBe(
      'bought in category {category} in the last {days} days',
    );
  });

  it('gives a trigger filter its event’s fields and the customer’s under customer.', async () => {
    const body = await json(await h.get('/v1/rules/fields?for=trigger&event=purchase'));
    const paths = body.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining(['event.purchase.category', 'event.amount', 'customer.total_spent']),
    );
    expect(paths).not.toContain('event.channel');
    expect(body.operators.map((o: { op: string }) => o.op)).not.toContain('purchased_in');
  });

  it('refuses an unknown scope with a problem naming it', async () => {
    const res = await h.get('/v1/rules/fields?for=nope');
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].path).toBe('for');
  });
});

describe('POST /v1/rules/check', () => {
  it('returns the warnings of a rule without saving it, and refuses a bad rule at its path', async () => {
    const res = await h.post('/v1/rules/check', {
      rule: { '==': [{ var: 'event.purchase.categry' }, 'garden'] },
      for: 'trigger',
      event: 'purchase',
    });
    expect(res.status).toBe(200);
    expect((await json(res)).warnings).toEqual([
      {
        path: 'rule.==.0.var',
        message:
          'the purchase event does not carry event.purchase.categry; did you mean event.purchase.category?',
      },
    ]);
    const bad = await h.post('/v1/rules/check', { rule: { nope: [1] } });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('rule.nope');
    expect((await h.post('/v1/rules/check', { rule: true }, { role: 'integrator' })).status).toBe(403);
    expect(await h.db.sql`select count(*)::int as n from segments`).toEqual([{ n: 0 }]);
  });
});

describe('warnings on save', () => {
  it('warns about an unknown field, a category nobody bought and a number compared with a string', async () => {
    const rule = {
      and: [
        { purchased_in: ['Garden', 90] },
        { '>': [{ var: 'totl_spent' }, 100] },
        { '>': [{ var: 'orders_count' }, '2'] },
      ],
    };
    const res = await h.post('/v1/segments', { name: 'Typos', rule });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.rule).toEqual(rule); // saved as it is: a warning is not an error
    expect(body.warnings).toEqual([
      {
        path: 'rule.and.0.purchased_in.0',
        message: 'no customer bought in the category "Garden"; did you mean "garden"?',
      },
      { path: 'rule.and.1.>.0.var', message: 'unknown field totl_spent; did you mean total_spent?' },
      {
        path: 'rule.and.2.>.1',
        message: 'orders_count is a number compared with the string "2": write 2 without quotes',
      },
    ]);
    const clean = await json(
      await h.patch(`/v1/segments/${body.id}`, { rule: { purchased_in: ['garden', 90] } }),
    );
    expect(clean.warnings).toBeUndefined(); // nothing to warn about: the body is what a read gives
  });

  it('warns in the preview, whose sample says why each customer matches', async () => {
    const rule = { and: [{ purchased_in: ['garden', 90] }, { '>': [{ var: 'total_spent' }, 100] }] };
    const body = await json(await h.post('/v1/segments/preview', { rule }));
    expect(body.count).toBe(2);
    expect(body.warnings).toEqual([]);
    expect(body.sample[0].why).toEqual([
      expect.stringMatching(/^bought garden on \d{4}-\d\d-\d\d/),
      'total_spent is 120',
    ]);
  });

  it('warns about a trigger filter reading a field its event does not carry', async () => {
    const res = await h.post('/v1/triggers', {
      name: 'Garden buyers',
      event: 'purchase',
      template_id: templateId,
      filter: { '==': [{ var: 'event.category' }, 'garden'] },
    });
    expect(res.status).toBe(201);
    expect((await json(res)).warnings).toEqual([
      {
        path: 'filter.==.0.var',
        message: 'the purchase event does not carry event.category; did you mean event.purchase.category?',
      },
    ]);
  });

  it('warns about an offer’s eligibility value that no customer has', async () => {
    const res = await h.post('/v1/offers', {
      name: 'Lyon',
      title: 'For Lyon',
      eligibility: { '==': [{ var: 'address.city' }, 'lyon'] },
    });
    expect(res.status).toBe(201);
    expect((await json(res)).warnings).toEqual([
      {
        path: 'eligibility.==.1',
        message: 'no customer has value "lyon" in address.city; did you mean "Lyon"?',
      },
    ]);
  });
});
