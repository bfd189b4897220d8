import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CustomerFacts,
  compareRanked,
  decideForCustomer,
  type PreparedOffer,
  type RuleFn,
} from './rank.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const CATEGORIES = ['garden', 'wine', 'books'];
const PURPOSES = ['health', 'politics'];

interface Ctx {
  x: number;
  tag: string;
}

// Rules are plain functions here: the core takes compiled rules, whatever compiled them.
const ELIGIBILITY: Array<[string, RuleFn | null]> = [
  ['none', null],
  ['x>3', (c) => (c as Ctx).x > 3],
  ['tag=a', (c) => (c as Ctx).tag === 'a'],
  [
    'throws',
    () => {
      throw new Error('boom');
    },
  ],
  ['empty-array', () => []],
  ['always', () => true],
];
const SCORES: Array<[string, RuleFn | null]> = [
  ['none', null],
  ['x', (c) => (c as Ctx).x],
  ['x%3', (c) => (c as Ctx).x % 3],
  ['NaN', () => Number.NaN],
  ['string', () => '5'],
  ['null', () => null],
  [
    'throws',
    () => {
      throw new Error('bad score');
    },
  ],
];

const offerArb = fc.record({
  priority: fc.integer({ min: -2, max: 2 }),
  fallback: fc.boolean(),
  category: fc.option(fc.constantFrom(...CATEGORIES), { nil: null }),
  from: fc.option(fc.integer({ min: -20, max: 20 }), { nil: null }),
  length: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }),
  cap: fc.option(
    fc.record({ count: fc.integer({ min: 0, max: 3 }), days: fc.integer({ min: 1, max: 30 }) }),
    {
      nil: null,
    },
  ),
  globalCap: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
  shown: fc.integer({ min: 0, max: 6 }),
  excludeDays: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
  eligibility: fc.integer({ min: 0, max: ELIGIBILITY.length - 1 }),
  score: fc.integer({ min: 0, max: SCORES.length - 1 }),
  sensitive: fc.subarray(PURPOSES, { maxLength: 1 }),
});

const catalogueArb = fc
  .uniqueArray(fc.tuple(fc.integer({ min: 1, max: 500 }), offerArb), {
    selector: ([id]) => id,
    maxLength: 14,
  })
  .map((list) =>
    list.map(([id, o]): PreparedOffer => {
      const validFrom = o.from === null ? null : NOW + o.from * DAY;
      return {
        id,
        name: `offer ${id}`,
        title: `title ${id}`,
        text: null,
        image_url: null,
        url: null,
        code: null,
        category: o.category,
        priority: o.priority,
        fallback: o.fallback,
        validFrom,
        validTo: o.length === null ? null : (validFrom ?? NOW - 10 * DAY) + o.length * DAY,
        capCount: o.cap?.count ?? null,
        capDays: o.cap?.days ?? null,
        globalCap: o.globalCap,
        shownCount: o.shown,
        excludeDays: o.excludeDays,
        eligibility: ELIGIBILITY[o.eligibility]![1],
        score: SCORES[o.score]![1],
        sensitive: o.sensitive.map((purpose) => ({ attribute: `attr_${purpose}`, purpose })),
        holdoutPercent: 10,
      };
    }),
  );

const factsArb = (ids: number[]) =>
  fc.record({
    context: fc.record({ x: fc.integer({ min: 0, max: 8 }), tag: fc.constantFrom('a', 'b') }),
    impressions: fc
      .array(fc.tuple(fc.constantFrom(0, ...ids), fc.integer({ min: 0, max: 4 })), { maxLength: 8 })
      .map((pairs) => new Map(pairs)),
    lastBought: fc
      .array(fc.tuple(fc.constantFrom(...CATEGORIES), fc.integer({ min: -40, max: 2 })), { maxLength: 3 })
      .map((pairs) => new Map(pairs.map(([c, d]) => [c, NOW + d * DAY] as [string, number]))),
    consents: fc.subarray(PURPOSES).map((p) => new Set(p)),
  }) as fc.Arbitrary<CustomerFacts>;

const scenarioArb = catalogueArb.chain((offers) =>
  fc.record({
    offers: fc.constant(offers),
    facts: factsArb(offers.map((o) => o.id)),
    k: fc.integer({ min: 0, max: 5 }),
  }),
);

/** An independent statement of eligibility, written without looking at the implementation. */
function oracle(o: PreparedOffer, f: CustomerFacts, allocated = 0): { ok: boolean; score?: number } {
  if (o.validFrom !== null && NOW < o.validFrom) return { ok: false };
  if (o.validTo !== null && NOW >= o.validTo) return { ok: false };
  if (o.globalCap !== null && o.shownCount + allocated >= o.globalCap) return { ok: false };
  if (o.capCount !== null && (f.impressions?.get(o.id) ?? 0) >= o.capCount) return { ok: false };
  if (o.sensitive.some((s) => !f.consents?.has(s.purpose))) return { ok: false };
  if (o.excludeDays !== null && o.category !== null) {
    const last = f.lastBought?.get(o.category);
    if (last !== undefined && last <= NOW && last > NOW - o.excludeDays * DAY) return { ok: false };
  }
  try {
    const r = o.eligibility ? o.eligibility(f.context) : true;
    if (!r || (Array.isArray(r) && r.length === 0)) return { ok: false };
    const s = o.score ? o.score(f.context) : o.priority;
    if (typeof s !== 'number' || !Number.isFinite(s)) return { ok: false };
    return { ok: true, score: s };
  } catch {
    return { ok: false };
  }
}

const run = (offers: PreparedOffer[], facts: CustomerFacts, k: number, explain = false) =>
  decideForCustomer(offers, facts, { placements: k, now: NOW, explain, allocated: new Map() });

describe('decideForCustomer (property)', () => {
  it('never chooses an ineligible, expired or capped offer, never more than K, never twice', () => {
    fc.assert(
      fc.property(scenarioArb, ({ offers, facts, k }) => {
        const d = run(offers, facts, k);
        expect(d.offers.length).toBeLessThanOrEqual(k);
        const ids = d.offers.map((o) => o.offer_id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const chosen of d.offers) {
          const offer = offers.find((o) => o.id === chosen.offer_id)!;
          const verdict = oracle(offer, facts);
          expect(verdict.ok).toBe(true);
          expect(chosen.score).toBe(verdict.score);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is the same when run twice, and explain changes nothing but the explanation', () => {
    fc.assert(
      fc.property(scenarioArb, ({ offers, facts, k }) => {
        const a = run(offers, facts, k);
        const b = run(offers, facts, k);
        const e = run(offers, facts, k, true);
        expect(b).toEqual(a);
        expect(e.offers).toEqual(a.offers);
        expect(run(offers, facts, k, true)).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it('ranks the best eligible targeted offers first and fills with fallbacks only when short', () => {
    fc.assert(
      fc.property(scenarioArb, ({ offers, facts, k }) => {
        const d = run(offers, facts, k);
        const eligible = offers
          .map((offer) => ({ offer, v: oracle(offer, facts) }))
          .filter((x) => x.v.ok)
          .map((x) => ({ offer: x.offer, score: x.v.score! }));
        const targeted = eligible.filter((c) => !c.offer.fallback).sort(compareRanked);
        const fallbacks = eligible.filter((c) => c.offer.fallback).sort(compareRanked);
        const expected = [...targeted.slice(0, k), ...fallbacks.slice(0, Math.max(0, k - targeted.length))];
        expect(d.offers.map((o) => o.offer_id)).toEqual(expected.map((c) => c.offer.id));
      }),
      { numRuns: 500 },
    );
  });

  it('explains every offer left out, with reasons, and never a chosen one', () => {
    fc.assert(
      fc.property(scenarioArb, ({ offers, facts, k }) => {
        const d = run(offers, facts, k, true);
        const chosen = new Set(d.offers.map((o) => o.offer_id));
        const excluded = d.excluded ?? [];
        expect(excluded.length + chosen.size).toBe(offers.length);
        for (const x of excluded) {
          expect(chosen.has(x.offer_id)).toBe(false);
          expect(x.reasons.length).toBeGreaterThan(0);
          const eligible = oracle(offers.find((o) => o.id === x.offer_id)!, facts).ok;
          const ranked = x.reasons.every((r) => r.code === 'outranked' || r.code === 'fallback_not_needed');
          // Left out although eligible only because the places were taken.
          expect(ranked).toBe(eligible);
          if (eligible) expect(d.offers.length).toBe(k);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never exceeds a global cap across a batch of customers sharing allocations', () => {
    fc.assert(
      fc.property(
        catalogueArb.chain((offers) =>
          fc.record({
            offers: fc.constant(offers),
            customers: fc.array(factsArb(offers.map((o) => o.id)), { minLength: 1, maxLength: 12 }),
            k: fc.integer({ min: 1, max: 4 }),
          }),
        ),
        ({ offers, customers, k }) => {
          const allocated = new Map<number, number>();
          const given = new Map<number, number>();
          for (const facts of customers) {
            const d = decideForCustomer(offers, facts, { placements: k, now: NOW, allocated });
            for (const o of d.offers) given.set(o.offer_id, (given.get(o.offer_id) ?? 0) + 1);
          }
          for (const offer of offers) {
            if (offer.globalCap === null) continue;
            const n = given.get(offer.id) ?? 0;
            if (n > 0) expect(offer.shownCount + n).toBeLessThanOrEqual(offer.globalCap);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('offer holdouts (property)', () => {
  const heldArb = catalogueArb.chain((offers) =>
    fc.record({
      offers: fc.constant(offers),
      facts: factsArb(offers.map((o) => o.id)),
      held: fc.subarray(offers.map((o) => o.id)),
      k: fc.integer({ min: 0, max: 5 }),
    }),
  );

  it('gives the next-ranked offers in place of held-out ones, and lists those that would have been shown', () => {
    fc.assert(
      fc.property(heldArb, ({ offers, facts, held, k }) => {
        const heldOut = new Set(held);
        const eligible = offers
          .map((offer) => ({ offer, v: oracle(offer, facts) }))
          .filter((x) => x.v.ok)
          .map((x) => ({ offer: x.offer, score: x.v.score! }));
        const pick = (list: typeof eligible) => {
          const targeted = list.filter((c) => !c.offer.fallback).sort(compareRanked);
          const fallbacks = list.filter((c) => c.offer.fallback).sort(compareRanked);
          return [...targeted.slice(0, k), ...fallbacks.slice(0, Math.max(0, k - targeted.length))].map(
            (c) => c.offer.id,
          );
        };
        const withoutHoldout = pick(eligible);
        const expected = pick(eligible.filter((c) => !heldOut.has(c.offer.id)));
        const wouldHaveShown = withoutHoldout.filter((id) => heldOut.has(id));
        const d = run(offers, { ...facts, heldOut }, k);
        const e = run(offers, { ...facts, heldOut }, k, true);
        expect(d.offers.map((o) => o.offer_id)).toEqual(expected);
        expect([...(d.held_out ?? [])].sort()).toEqual([...wouldHaveShown].sort());
        expect(e.offers).toEqual(d.offers);
        expect(e.held_out).toEqual(d.held_out);
        for (const id of e.held_out ?? []) {
          const x = e.excluded?.find((r) => r.offer_id === id);
          expect(x?.reasons.map((r) => r.code)).toEqual(['holdout']);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('decideForCustomer (examples)', () => {
  const base: PreparedOffer = {
    id: 1,
    name: 'a',
    title: 'A',
    text: null,
    image_url: null,
    url: null,
    code: null,
    category: 'garden',
    priority: 0,
    fallback: false,
    validFrom: null,
    validTo: null,
    capCount: null,
    capDays: null,
    globalCap: null,
    shownCount: 0,
    excludeDays: null,
    eligibility: null,
    score: null,
    sensitive: [],
    holdoutPercent: 0,
  };

  it('says why each offer was left out', () => {
    const offers: PreparedOffer[] = [
      { ...base, id: 1, validTo: NOW - DAY },
      { ...base, id: 2, capCount: 1, capDays: 7 },
      {
        ...base,
        id: 3,
        eligibility: () => {
          throw new Error('no such var');
        },
      },
      { ...base, id: 4, score: () => 'high' },
      { ...base, id: 5, sensitive: [{ attribute: 'diagnosis', purpose: 'health' }] },
      { ...base, id: 6, excludeDays: 30 },
      { ...base, id: 7, priority: 5 },
      { ...base, id: 8, priority: 1 },
      { ...base, id: 9, fallback: true },
    ];
    const facts: CustomerFacts = {
      context: {},
      impressions: new Map([[2, 1]]),
      lastBought: new Map([['garden', NOW - 3 * DAY]]),
      consents: new Set(),
    };
    const d = decideForCustomer(offers, facts, { placements: 1, now: NOW, explain: true });
    expect(d.offers.map((o) => o.offer_id)).toEqual([7]);
    const codes = Object.fromEntries(
      (d.excluded ?? []).map((x) => [x.offer_id, x.reasons.map((r) => r.code)]),
    );
    expect(codes).toEqual({
      1: ['expired'],
      2: ['customer_cap'],
      3: ['rule_error'],
      4: ['score_error'],
      5: ['consent'],
      6: ['recently_bought'],
      8: ['outranked'],
      9: ['fallback_not_needed'],
    });
  });

  it('fills with fallbacks, which still respect their window and caps', () => {
    const offers: PreparedOffer[] = [
      { ...base, id: 1, eligibility: () => false },
      { ...base, id: 2, fallback: true, priority: 1 },
      { ...base, id: 3, fallback: true, priority: 9, globalCap: 0 },
      { ...base, id: 4, fallback: true, priority: 0 },
    ];
    const d = decideForCustomer(offers, { context: {} }, { placements: 3, now: NOW, explain: true });
    expect(d.offers.map((o) => [o.offer_id, o.fallback])).toEqual([
      [2, true],
      [4, true],
    ]);
    expect(d.excluded?.map((x) => [x.offer_id, x.reasons[0]?.code])).toEqual([
      [1, 'rule_false'],
      [3, 'global_cap'],
    ]);
  });
});
