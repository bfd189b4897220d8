import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_CELLS,
  type ArmStats,
  betaDraw,
  cellOf,
  estimateOf,
  type LearnerSettings,
  learnedRanking,
  pooledOrderValue,
} from './learner.js';
import { type CustomerFacts, decideForCustomer, type PreparedOffer } from './rank.js';
import { random, seedOf } from './seeded-random.js';

const NOW = Date.UTC(2026, 5, 1);

const offer = (id: number, over: Partial<PreparedOffer> = {}): PreparedOffer => ({
  id,
  name: `offer ${id}`,
  title: `Offer ${id}`,
  text: null,
  image_url: null,
  url: null,
  code: null,
  category: null,
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
  ...over,
});

type Stats = Map<number, Map<string, ArmStats>>;

function record(stats: Stats, offerId: number, cell: string, converted: boolean, revenue = 0): void {
  const arms = stats.get(offerId) ?? new Map<string, ArmStats>();
  for (const key of [ALL_CELLS, cell]) {
    const arm = arms.get(key) ?? { impressions: 0, conversions: 0, revenue: 0, revenue_sq: 0 };
    arm.impressions += 1;
    if (converted) {
      arm.conversions += 1;
      arm.revenue += revenue;
      arm.revenue_sq += revenue * revenue;
    }
    arms.set(key, arm);
  }
  stats.set(offerId, arms);
}

const CONVERSION: LearnerSettings = { objective: 'conversion', cells: false, exploration: 0.05 };

describe('Beta draws', () => {
  it('have the Beta distribution’s mean and variance, for small and large shapes', () => {
    const uniform = random(7);
    for (const [a, b] of [
      [0.5, 0.5],
      [1, 1],
      [3, 7],
      [40, 1202],
    ] as const) {
      const n = 20_000;
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const x = betaDraw(a, b, uniform);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
        sum += x;
        sq += x * x;
      }
      const mean = a / (a + b);
      const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
      const sampleMean = sum / n;
      // Five standard errors of the mean; the variance within 10 %.
      expect(Math.abs(sampleMean - mean)).toBeLessThan(5 * Math.sqrt(variance / n));
      expect(Math.abs(sq / n - sampleMean ** 2 - variance) / variance).toBeLessThan(0.1);
    }
  });
});

describe('the learned estimate', () => {
  it('reads as "conversion 3.2 % ± 0.5 %, 1,240 impressions" with the Beta posterior’s mean and deviation', () => {
    const stats: Stats = new Map([
      [7, new Map([[ALL_CELLS, { impressions: 1240, conversions: 39, revenue: 0, revenue_sq: 0 }]])],
    ]);
    const e = estimateOf(stats, CONVERSION, 7, 'x', 0.03, pooledOrderValue(stats));
    const a = 40;
    const b = 1202;
    expect(e.conversion_rate).toBeCloseTo(a / (a + b), 12);
    expect(e.conversion_sd).toBeCloseTo(Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1))), 12);
    expect(e.text).toBe('conversion 3.2 % ± 0.5 %, 1,240 impressions');
  });

  it('with the revenue objective, ranks by revenue per impression and says so', () => {
    // Same conversion rate; offer 2's orders are worth five times offer 1's.
    const arm = (revenuePerOrder: number) => ({
      impressions: 5000,
      conversions: 250,
      revenue: 250 * revenuePerOrder,
      revenue_sq: 250 * revenuePerOrder ** 2 * 1.1,
    });
    const stats: Stats = new Map([
      [1, new Map([[ALL_CELLS, arm(20)]])],
      [2, new Map([[ALL_CELLS, arm(100)]])],
    ]);
    const settings: LearnerSettings = { objective: 'revenue', cells: false, exploration: 0 };
    const pooled = pooledOrderValue(stats);
    const e = estimateOf(stats, settings, 2, 'x', 0, pooled);
    expect(e.revenue_per_impression).toBeCloseTo((251 / 5002) * 100, 6);
    expect(e.text).toMatch(
      /^revenue per impression \d+\.\d\d ± \d+\.\d\d \(conversion 5\.0 % ± 0\.3 %\), 5,000 impressions$/,
    );
    let wins = 0;
    for (let i = 0; i < 200; i++) {
      const r = learnedRanking(stats, settings, ALL_CELLS, random(seedOf(`rev:${i}`)), pooled);
      if (r.sample(2) > r.sample(1)) wins++;
    }
    expect(wins).toBe(200);
  });

  it('puts customers in cells by top category and recency band', () => {
    expect(cellOf({ top_category: 'wine', days_since_last_purchase: 3 })).toBe('wine|0-29d');
    expect(cellOf({ top_category: 'wine', days_since_last_purchase: 45 })).toBe('wine|30-89d');
    expect(cellOf({ top_category: null, days_since_last_purchase: null })).toBe('none|never');
  });
});

describe('the learning ranker inside the decision (property)', () => {
  const scenario = fc.record({
    offers: fc.uniqueArray(
      fc.record({
        id: fc.integer({ min: 1, max: 50 }),
        priority: fc.integer({ min: -3, max: 3 }),
        fallback: fc.boolean(),
        eligible: fc.boolean(),
        capped: fc.boolean(),
        impressions: fc.integer({ min: 0, max: 500 }),
        rate: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      { selector: (o) => o.id, maxLength: 10 },
    ),
    k: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 }),
    exploration: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  it('chooses among the same eligible offers as the priority ranking, fallbacks as before, and the same draws decide the same', () => {
    fc.assert(
      fc.property(scenario, ({ offers, k, seed, exploration }) => {
        const catalogue = offers.map((o) =>
          offer(o.id, {
            priority: o.priority,
            fallback: o.fallback,
            eligibility: () => o.eligible,
            capCount: o.capped ? 1 : null,
            capDays: o.capped ? 7 : null,
          }),
        );
        const stats: Stats = new Map(
          offers.map((o) => [
            o.id,
            new Map([
              [
                ALL_CELLS,
                {
                  impressions: o.impressions,
                  conversions: Math.round(o.impressions * o.rate),
                  revenue: 0,
                  revenue_sq: 0,
                },
              ],
            ]),
          ]),
        );
        const impressions = new Map(offers.filter((o) => o.capped).map((o) => [o.id, 1]));
        const settings = { ...CONVERSION, exploration };
        const decide = (learned: boolean, explain = false) => {
          const facts: CustomerFacts = {
            context: {},
            impressions,
            ...(learned
              ? { learned: learnedRanking(stats, settings, ALL_CELLS, random(seed), pooledOrderValue(stats)) }
              : {}),
          };
          return decideForCustomer(catalogue, facts, { placements: k, now: NOW, explain });
        };
        const plain = decide(false);
        const learned = decide(true);
        const eligibleTargeted = new Set(
          offers.filter((o) => o.eligible && !o.capped && !o.fallback).map((o) => o.id),
        );
        const ids = learned.offers.map((o) => o.offer_id);
        expect(new Set(ids).size).toBe(ids.length);
        // Same number chosen; targeted ones only from the eligible, fallbacks exactly as before.
        expect(ids.length).toBe(plain.offers.length);
        for (const o of learned.offers) if (!o.fallback) expect(eligibleTargeted.has(o.offer_id)).toBe(true);
        expect(learned.offers.filter((o) => o.fallback)).toEqual(plain.offers.filter((o) => o.fallback));
        if (eligibleTargeted.size <= k) {
          expect(new Set(ids.filter((id) => eligibleTargeted.has(id)))).toEqual(eligibleTargeted);
        }
        expect(decide(true)).toEqual(learned);
        const explained = decide(true, true);
        expect(explained.offers.map((o) => o.offer_id)).toEqual(ids);
        for (const o of explained.offers) if (!o.fallback) expect(o.learned?.text).toMatch(/^conversion /);
      }),
      { numRuns: 300 },
    );
  });
});

// A synthetic shop: customers in 6 cells (top category × recency band), 4 offers whose true
// conversion rates differ by cell. The static ranking always shows the offer of highest priority
// (the marketer's guess: a good all-rounder, but best in no cell and below two others on average).
const CELLS = ['wine|0-29d', 'wine|30-89d', 'wine|90d+', 'garden|0-29d', 'garden|30-89d', 'garden|90d+'];
const CELL_WEIGHTS = [0.2, 0.15, 0.15, 0.2, 0.15, 0.15];
const TRUE_RATES: Record<number, number[]> = {
  1: [0.025, 0.02, 0.015, 0.025, 0.02, 0.015], // the marketer's priority
  2: [0.06, 0.04, 0.02, 0.01, 0.01, 0.01], // wine lovers
  3: [0.01, 0.01, 0.01, 0.05, 0.045, 0.03], // gardeners
  4: [0.02, 0.02, 0.035, 0.02, 0.02, 0.035], // win-back
};
const PRIORITIES: Record<number, number> = { 1: 10, 2: 5, 3: 5, 4: 1 };

function simulate(settings: LearnerSettings | null, decisions: number, seed: number) {
  const uniform = random(seed);
  const catalogue = Object.keys(TRUE_RATES).map((id) =>
    offer(Number(id), { priority: PRIORITIES[Number(id)]! }),
  );
  const stats: Stats = new Map();
  // The worker folds impressions in by batches, as ranker_stats is recomputed between runs.
  let pending: Array<[number, string, boolean]> = [];
  let regretOracle = 0;
  let conversions = 0;
  const shown = new Map<number, number>();
  for (let i = 0; i < decisions; i++) {
    const u = uniform();
    let c = 0;
    for (let acc = CELL_WEIGHTS[0]!; u > acc && c < CELLS.length - 1; acc += CELL_WEIGHTS[++c]!);
    const cell = CELLS[c]!;
    const facts: CustomerFacts = { context: {} };
    if (settings) facts.learned = learnedRanking(stats, settings, cell, random(seedOf(`sim:${seed}:${i}`)));
    const chosen = decideForCustomer(catalogue, facts, { placements: 1, now: NOW }).offers[0]!.offer_id;
    const p = TRUE_RATES[chosen]![c]!;
    const best = Math.max(...Object.values(TRUE_RATES).map((r) => r[c]!));
    regretOracle += best - p;
    const converted = uniform() < p;
    if (converted) conversions += 1;
    shown.set(chosen, (shown.get(chosen) ?? 0) + 1);
    pending.push([chosen, cell, converted]);
    if (pending.length === 1000) {
      for (const [id, cl, conv] of pending) record(stats, id, cl, conv);
      pending = [];
    }
  }
  return { regretOracle, conversions, shown };
}

describe('simulation: 100,000 decisions on a synthetic population with known rates', () => {
  it('the learner’s cumulative regret is far below static priority’s', () => {
    const N = 100_000;
    const staticRun = simulate(null, N, 42);
    const overall = simulate(CONVERSION, N, 42);
    const perCell = simulate({ ...CONVERSION, cells: true }, N, 42);
    const table = [
      ['static priority', staticRun],
      ['learner, all customers', overall],
      ['learner, per cell', perCell],
    ] as const;
    const lines = table.map(
      ([name, r]) =>
        `${name.padEnd(24)} regret vs oracle ${r.regretOracle.toFixed(0).padStart(6)}  vs static ${(
          r.regretOracle - staticRun.regretOracle
        )
          .toFixed(0)
          .padStart(
            6,
          )}  conversions ${String(r.conversions).padStart(5)}  impressions by offer ${JSON.stringify(
          Object.fromEntries([...r.shown].sort((a, b) => a[0] - b[0])),
        )}`,
    );
    console.log(`ranker simulation (${N.toLocaleString('en-GB')} decisions)\n${lines.join('\n')}`);
    expect(overall.regretOracle).toBeLessThan(staticRun.regretOracle);
    expect(perCell.regretOracle).toBeLessThan(staticRun.regretOracle);
    // Per cell it learns each cell's best offer: well under half of static priority's regret.
    expect(perCell.regretOracle).toBeLessThan(staticRun.regretOracle / 2);
    expect(perCell.conversions).toBeGreaterThan(staticRun.conversions);
  });
});
