import { compileRule } from '../src/rules/compile.js';
import type { CustomerContext } from '../src/rules/context.js';
import type { Bench, BenchResult } from './harness.js';

// In-process rule evaluation over 1,000,000 customer contexts: the compiled JSON Logic rule
// (compileRule, production engine configuration) against a hand-written JavaScript predicate
// for the same rule, same contexts, same run. Median of ROUNDS passes each, interleaved.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(10_000, Math.round(1_000_000 * SCALE));
const ROUNDS = 5;
const DAY = 86_400_000;
const CATEGORIES = ['garden', 'wine', 'books', 'toys', 'sport', 'kitchen', 'fashion', 'music'];
const LOCALES = ['de', 'fr', 'en', 'nl'];

function contexts(now: Date): CustomerContext[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  return Array.from({ length: N }, (_, i) => {
    const spend: Record<string, number> = {};
    const last: Record<string, string> = {};
    for (const c of CATEGORIES) {
      if (rand() < 0.3) {
        spend[c] = Math.round(rand() * 30_000) / 100;
        last[c] = new Date(now.getTime() - Math.floor(rand() * 700 * DAY)).toISOString();
      }
    }
    const total = Object.values(spend).reduce((a, b) => a + b, 0);
    return {
      id: i + 1,
      external_id: `c${i}`,
      email: `c${i}@example.com`,
      first_name: null,
      last_name: null,
      locale: LOCALES[i % 4] as string,
      timezone: null,
      birth_date: null,
      age: 20 + (i % 60),
      address: {},
      family: [],
      occupation: null,
      income_band: ['low', 'mid', 'high'][i % 3] as string,
      education: null,
      preferences: {},
      preferred_categories: [CATEGORIES[i % 8] as string],
      hobbies: [],
      attributes: {},
      created_at: now.toISOString(),
      days_since_signup: i % 1000,
      erased: false,
      total_spent: Math.round(total * 100) / 100,
      orders_count: Object.keys(spend).length,
      avg_order_value: null,
      first_purchase_at: null,
      last_purchase_at: null,
      days_since_last_purchase: Math.floor(rand() * 700),
      spend_by_category: spend,
      last_purchase_by_category: last,
      top_category: null,
      categories_bought: Object.keys(spend),
      recent_purchases: [],
      consents: [],
      events: [],
      event_names: [],
      now: now.toISOString(),
    };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function measure(
  all: CustomerContext[],
  predicate: (c: CustomerContext) => unknown,
): { seconds: number; hits: number } {
  const started = performance.now();
  let hits = 0;
  for (let i = 0; i < all.length; i++) if (predicate(all[i] as CustomerContext)) hits++;
  return { seconds: (performance.now() - started) / 1000, hits };
}

interface Case {
  name: string;
  rule: unknown;
  hand: (c: CustomerContext) => boolean;
}

const bench: Bench = {
  name: 'rules-eval',
  async run(): Promise<BenchResult[]> {
    const now = new Date();
    const nowMs = now.getTime();
    const all = contexts(now);
    const cases: Case[] = [
      {
        name: 'profile + aggregates',
        rule: {
          and: [
            { '>': [{ var: 'total_spent' }, 200] },
            { '==': [{ var: 'locale' }, 'de'] },
            { '<': [{ var: 'days_since_last_purchase' }, 60] },
            { in: ['garden', { var: 'categories_bought' }] },
          ],
        },
        hand: (c) =>
          c.total_spent > 200 &&
          c.locale === 'de' &&
          (c.days_since_last_purchase ?? 0) < 60 &&
          c.categories_bought.includes('garden'),
      },
      {
        name: 'with purchased_in',
        rule: {
          and: [
            { '>': [{ var: 'total_spent' }, 200] },
            { purchased_in: ['garden', 90] },
            { '>': [{ var: 'spend_by_category.wine' }, 50] },
          ],
        },
        hand: (c) => {
          if (!(c.total_spent > 200)) return false;
          const at = c.last_purchase_by_category.garden;
          if (at === undefined || Date.parse(at) < Date.parse(c.now) - 90 * DAY) return false;
          return (c.spend_by_category.wine ?? 0) > 50;
        },
      },
    ];
    void nowMs;
    const results: BenchResult[] = [];
    for (const c of cases) {
      const compiled = compileRule(c.rule);
      const ours: number[] = [];
      const theirs: number[] = [];
      let hits = -1;
      for (let r = 0; r < ROUNDS; r++) {
        const a = measure(all, compiled);
        const b = measure(all, c.hand);
        if (a.hits !== b.hits)
          throw new Error(`${c.name}: compiled rule found ${a.hits}, predicate ${b.hits}`);
        hits = a.hits;
        ours.push(a.seconds);
        theirs.push(b.seconds);
      }
      const value = N / median(ours);
      const baseline = N / median(theirs);
      results.push({
        name: `rules-eval ${c.name} (${N} contexts)`,
        value,
        unit: 'evals/s',
        baseline: 'hand-written JS predicate',
        baseline_value: baseline,
        ratio: value / baseline,
        target: 0.5,
        notes: { matches: hits },
      });
    }
    return results;
  },
};

export default bench;
