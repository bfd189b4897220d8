import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

/*
 * Rules are data from marketers' keys, and they run on the API's event loop (decisions, the
 * customer card, the rule tester) and in the planner. Iterators nest and reach outer data with
 * `val`, so a rule of a few hundred bytes could walk millions of elements per evaluation. Every
 * evaluation now has a step budget across nesting; a rule whose worst case exceeds it is
 * refused at save, naming the field.
 */

/** `depth` maps nested over the root's `list`, each inner one climbing back to it (`val [[2k]]`). */
function nested(depth: number, list: string): unknown {
  const inner = (climb: number, d: number): unknown =>
    d === 0 ? 1 : { map: [{ val: [[climb], list] }, inner(climb + 2, d - 1)] };
  return { map: [{ var: list }, inner(2, depth - 1)] };
}

let h: Harness;
let customerId: number;
beforeAll(async () => {
  h = await createHarness();
  const hobbies = Array.from({ length: 200 }, (_, i) => `hobby-${i}`);
  const [c] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email, hobbies) values ('budget-1', 'budget@example.com', ${hobbies})
    returning id`;
  customerId = c!.id;
});
afterAll(async () => h?.close());

const offer = (over: Record<string, unknown>) => ({
  name: 'Budget',
  title: 'Budget',
  category: 'garden',
  ...over,
});

describe('rules cannot freeze the API', () => {
  it('refuses at save an offer whose eligibility nests iterators over outer data (422 naming the field)', async () => {
    const before = await h.db.sql<{ n: number }[]>`select count(*)::int as n from offers`;
    const res = await h.post('/v1/offers', offer({ eligibility: nested(3, 'hobbies') }), {
      role: 'marketer',
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = await json(res);
    expect(body.errors.map((e: { path: string }) => e.path)).toContain('eligibility');
    expect(JSON.stringify(body.errors)).toMatch(/steps/);
    const after = await h.db.sql<{ n: number }[]>`select count(*)::int as n from offers`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('refuses the same in a segment rule and in the rule tester', async () => {
    const seg = await h.post('/v1/segments', { name: 'budget', rule: nested(2, 'hobbies') });
    expect(seg.status).toBe(422);
    expect((await json(seg)).errors[0].path).toBe('rule');

    const tester = await h.post(
      '/v1/rules/evaluate',
      { rule: nested(3, 'xs'), data: { xs: Array.from({ length: 200 }, (_, i) => i) } },
      { role: 'marketer' },
    );
    expect(tester.status).toBe(422);
    const problem = await json(tester);
    expect(problem.kind).toBe('Limit Exceeded');
    expect(problem.errors[0].path).toBe('rule');
  });

  it('stops a stored rule over the budget at evaluation: the offer is left out, the decision answers', async () => {
    // A rule saved before the check existed (written straight to the table).
    const [row] = await h.db.sql<{ id: number }[]>`
      insert into offers (name, title, category, eligibility)
      values ('legacy', 'legacy', 'garden', ${h.db.sql.json(nested(3, 'hobbies') as never)})
      returning id`;
    const res = await h.post('/v1/decisions', { customer_id: customerId, placements: 3, explain: true });
    expect(res.status).toBe(200);
    const d = await json(res);
    expect(d.offers.map((o: { offer_id: number }) => o.offer_id)).not.toContain(row!.id);
    const excluded = d.excluded.find((x: { offer_id: number }) => x.offer_id === row!.id);
    expect(excluded.reasons[0].code).toBe('rule_error');
    expect(excluded.reasons[0].message).toMatch(/Limit Exceeded/);
  });

  it('keeps rules that walk the element they are given, however they nest', async () => {
    const res = await h.post(
      '/v1/rules/evaluate',
      {
        rule: { some: [{ var: 'orders' }, { some: [{ var: 'lines' }, { '==': [{ var: 'sku' }, 'B'] }] }] },
        data: { orders: [{ lines: [{ sku: 'A' }] }, { lines: [{ sku: 'C' }, { sku: 'B' }] }] },
      },
      { role: 'marketer' },
    );
    expect(res.status).toBe(200);
    expect((await json(res)).result).toBe(true);
  });
});
