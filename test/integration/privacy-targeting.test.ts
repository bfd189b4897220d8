import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../src/db/sql.js';
import { decideOffersBatch } from '../../src/offers/decide.js';
import { withPurposes } from '../../src/privacy/guard.js';
import { buildContexts } from '../../src/rules/context.js';
import { segmentAudiencePage } from '../../src/segments/audience.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let sql: Sql;
const NOW = new Date('2026-06-01T00:00:00Z');

// Two sensitive attributes (two special categories) and an ordinary one.
const SENSITIVE = { condition: 'sensitive:health', party: 'sensitive:political_opinions' } as const;
const VALUES = {
  condition: ['asthma', 'diabetes', 'none'],
  party: ['green', 'blue'],
  tier: ['gold', 'basic'],
};
const PURPOSES = [...Object.values(SENSITIVE), 'marketing_email'];

beforeAll(async () => {
  h = await createHarness();
  sql = h.db.sql;
  for (const [key, category] of [
    ['condition', 'health'],
    ['party', 'political_opinions'],
  ] as const) {
    const res = await h.post('/v1/attributes', { key, type: 'string', sensitive: true, category });
    expect(res.status).toBe(201);
    expect((await json(res)).purpose).toBe(`sensitive:${category}`);
  }
  expect((await h.post('/v1/attributes', { key: 'tier', type: 'string' })).status).toBe(201);
});
afterAll(async () => h.close());

const customerArb = fc.record({
  attributes: fc.record(
    {
      condition: fc.constantFrom(...VALUES.condition),
      party: fc.constantFrom(...VALUES.party),
      tier: fc.constantFrom(...VALUES.tier),
    },
    { requiredKeys: [] },
  ),
  // The consent ledger in order: only the latest decision per purpose counts.
  consents: fc.array(fc.record({ purpose: fc.constantFrom(...PURPOSES), granted: fc.boolean() }), {
    maxLength: 4,
  }),
});

const key = fc.constantFrom('condition', 'party', 'tier') as fc.Arbitrary<keyof typeof VALUES>;
const leaf = key.chain((k) =>
  fc.oneof(
    fc.constantFrom(...VALUES[k]).map((v) => ({ '==': [{ var: `attributes.${k}` }, v] })),
    fc.constantFrom(...VALUES[k]).map((v) => ({ '!=': [{ var: `attributes.${k}` }, v] })),
    fc.constant({ '!!': [{ var: `attributes.${k}` }] }),
    fc.constant({ missing: [`attributes.${k}`] }),
  ),
);
const ruleArb: fc.Arbitrary<unknown> = fc.letrec<{ rule: unknown }>((tie) => ({
  rule: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((xs) => ({ and: xs })),
    fc.array(tie('rule'), { minLength: 1, maxLength: 3 }).map((xs) => ({ or: xs })),
    tie('rule').map((x) => ({ '!': x })),
  ),
})).rule;

type Customer = typeof customerArb extends fc.Arbitrary<infer T> ? T : never;

async function load(customers: Customer[]): Promise<number[]> {
  await sql`truncate customers, offers restart identity cascade`;
  const ids: number[] = [];
  for (const [i, c] of customers.entries()) {
    const [row] = await sql<{ id: number }[]>`
      insert into customers (external_id, email, attributes)
      values (${`p-${i}`}, ${`p${i}@example.com`}, ${sql.json(c.attributes)}) returning id`;
    ids.push(row!.id);
    for (const [j, consent] of c.consents.entries()) {
      await sql`
        insert into consents (customer_id, purpose, granted, source, at)
        values (${row!.id}, ${consent.purpose}, ${consent.granted}, 'test', ${new Date(NOW.getTime() - (100 - j) * 1000)})`;
    }
  }
  return ids;
}

/** The purposes whose latest decision is a grant. */
function granted(c: Customer): Set<string> {
  const latest = new Map<string, boolean>();
  for (const k of c.consents) latest.set(k.purpose, k.granted);
  return new Set([...latest].filter(([, g]) => g).map(([p]) => p));
}

/** Every sensitive value of customers without the consent for it, changed to another value or removed. */
function perturb(customers: Customer[], seed: number): Customer[] {
  return customers.map((c, i) => {
    const ok = granted(c);
    const attributes = { ...c.attributes };
    for (const [k, purpose] of Object.entries(SENSITIVE) as [keyof typeof SENSITIVE, string][]) {
      if (ok.has(purpose)) continue;
      const pick = (seed + i) % (VALUES[k].length + 1);
      if (pick === VALUES[k].length) delete attributes[k];
      else attributes[k] = VALUES[k][pick]!;
    }
    return { ...c, attributes };
  });
}

/** Who the rule selects (segment audience) and who gets the offer (decide), for customers without the consents. */
async function outcomes(customers: Customer[], rule: unknown) {
  const ids = await load(customers);
  await sql`insert into offers (name, title, eligibility) values ('o', 'O', ${sql.json(rule as never)})`;
  const selected = new Set(await segmentAudiencePage(sql, rule, { limit: 1000, now: NOW }));
  const decisions = await decideOffersBatch(sql, { customerIds: ids, placements: 1, now: NOW });
  return ids.map((id) => ({
    selected: selected.has(id),
    offered: (decisions.get(id)?.offers.length ?? 0) > 0,
  }));
}

// Each run loads its customers, consents and an offer afresh and asks both the segment and the
// decision: about 0.25 s a run alone, several times that while the whole suite shares two cores.
const PROPERTY_BUDGET_MS = 120_000;

describe('targeting guard (property)', () => {
  it(
    'never selects a customer without the consent because of a sensitive value, and the context never holds one',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(customerArb, { minLength: 1, maxLength: 8 }),
          ruleArb,
          fc.nat(10),
          async (customers, rule, seed) => {
            const before = await outcomes(customers, rule);
            // The context a rule sees has a sensitive attribute only with its consent.
            const contexts = await buildContexts(
              sql,
              (await sql<{ id: number }[]>`select id from customers order by id`).map((r) => r.id),
              NOW,
            );
            [...contexts.values()].forEach((ctx, i) => {
              const ok = granted(customers[i]!);
              for (const [k, purpose] of Object.entries(SENSITIVE)) {
                if (!ok.has(purpose)) expect(ctx.attributes).not.toHaveProperty(k);
                else expect(ctx.attributes[k]).toBe(customers[i]!.attributes[k as keyof typeof SENSITIVE]);
              }
            });
            // Non-interference: changing the sensitive values of those who did not consent changes
            // nothing for anyone (segment membership or offer).
            const after = await outcomes(perturb(customers, seed), rule);
            expect(after).toEqual(before);
          },
        ),
        { numRuns: 40 },
      );
    },
    PROPERTY_BUDGET_MS,
  );

  it(
    'a declared rule selects only customers who consented to its purpose',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(customerArb, { minLength: 1, maxLength: 8 }),
          ruleArb,
          async (customers, rule) => {
            const declared = withPurposes(rule, ['sensitive:health']);
            const result = await outcomes(customers, declared);
            result.forEach((r, i) => {
              if (!granted(customers[i]!).has('sensitive:health')) {
                expect(r.selected).toBe(false);
                expect(r.offered).toBe(false);
              }
            });
          },
        ),
        { numRuns: 25 },
      );
    },
    PROPERTY_BUDGET_MS,
  );
});

describe('targeting guard (HTTP)', () => {
  const reads = { '==': [{ var: 'attributes.condition' }, 'asthma'] };

  it('rejects segments, previews and offers that read a sensitive attribute without declaring its purpose', async () => {
    const segment = await h.post('/v1/segments', { name: 'asthma', rule: reads });
    expect(segment.status).toBe(422);
    expect((await json(segment)).errors[0]).toMatchObject({ path: 'rule' });
    expect((await json(await h.post('/v1/segments/preview', { rule: reads }))).status).toBe(422);
    const wholeContext = await h.post('/v1/segments', {
      name: 'all',
      rule: { '!!': [{ var: 'attributes' }] },
    });
    expect(wholeContext.status).toBe(422);
    const viaVal = await h.post('/v1/segments', {
      name: 'v',
      rule: { '==': [{ val: ['attributes', 'party'] }, 'green'] },
    });
    expect(viaVal.status).toBe(422);
    const offer = await h.post('/v1/offers', { name: 'o', title: 'O', eligibility: reads });
    expect(offer.status).toBe(422);
    expect((await json(offer)).errors[0]).toMatchObject({ path: 'eligibility' });
    expect(await sql`select 1 from segments`).toHaveLength(0);
  });

  it('accepts them once the rule declares the purpose; ordinary attributes need nothing', async () => {
    const declared = withPurposes(reads, ['sensitive:health']);
    expect((await h.post('/v1/segments', { name: 'asthma', rule: declared })).status).toBe(201);
    expect((await h.post('/v1/offers', { name: 'o', title: 'O', eligibility: declared })).status).toBe(201);
    const wrongPurpose = withPurposes(reads, ['sensitive:religion']);
    expect((await h.post('/v1/segments', { name: 'x', rule: wrongPurpose })).status).toBe(422);
    expect(
      (await h.post('/v1/segments', { name: 'gold', rule: { '==': [{ var: 'attributes.tier' }, 'gold'] } }))
        .status,
    ).toBe(201);
  });
});
