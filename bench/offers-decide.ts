import type { Sql } from '../src/db/sql.js';
import { decideOffersBatch, loadCatalogue, loadCustomerFacts } from '../src/offers/decide.js';
import { ALL_CELLS, type ArmStats, cellOf, learnedRanking, pooledOrderValue } from '../src/offers/learner.js';
import { type CustomerFacts, decideForCustomer } from '../src/offers/rank.js';
import { random, seedOf } from '../src/offers/seeded-random.js';
import type { CustomerContext } from '../src/rules/context.js';
import { type Bench, type BenchResult, withScratchDatabase } from './harness.js';

// Batch offer decisions: 100,000 customers × 50 offers, 3 placements (BENCH_SCALE shrinks the
// customers). The baseline evaluates the same compiled rules (eligibility and score of every
// offer) in a plain loop over the same prebuilt in-memory contexts; the in-memory figure times
// decideForCustomer over those same contexts. The end-to-end figure (pages of 1,000 through
// decideOffersBatch, database included) is reported alongside.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CUSTOMERS = Math.max(1000, Math.round(100_000 * SCALE));
const OFFERS = 50;
const PLACEMENTS = 3;
const PAGE = 1000;
const NOW = new Date('2026-06-01T00:00:00Z');
const CATEGORIES = ['garden', 'wine', 'books', 'toys', 'sport', 'kitchen', 'fashion', 'music'];

async function seed(sql: Sql): Promise<void> {
  await sql`
    insert into customers (external_id, email, locale, preferred_categories)
    select 'b' || i, 'b' || i || '@example.com', (array['en', 'de', 'fr'])[1 + i % 3],
           (${CATEGORIES}::text[])[1 + i % 8 : 1 + i % 8]
    from generate_series(1, ${CUSTOMERS}) as i`;
  await sql`
    insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
    select 'p' || c.id || '-' || k, c.id, (${CATEGORIES}::text[])[1 + (c.id * 7 + k * 3) % 8],
           5 + (c.id * 31 + k * 17) % 300,
           ${NOW}::timestamptz - make_interval(days => ((c.id * 13 + k * 29) % 400)::int)
    from customers c, generate_series(1, 5) as k`;
  await sql`insert into attributes (key, type, sensitive, purpose) values ('pregnant', 'boolean', true, 'health')`;
  await sql`
    insert into consents (customer_id, purpose, granted, source, at)
    select id, 'health', true, 'bench', ${NOW}::timestamptz - interval '1 day' from customers where id % 10 = 0`;
  for (let i = 0; i < OFFERS; i++) {
    const category = CATEGORIES[i % CATEGORIES.length]!;
    const eligibility: unknown = [
      { '>': [{ var: 'total_spent' }, 100 + (i % 7) * 50] },
      { in: [category, { var: 'preferred_categories' }] },
      { '>': [{ var: [`spend_by_category.${category}`, 0] }, 20] },
      { and: [{ '>=': [{ var: 'orders_count' }, 2] }, { '<': [{ var: 'days_since_last_purchase' }, 200] }] },
      null,
      { '==': [{ var: 'attributes.pregnant' }, true] },
    ][i % 6];
    const score: unknown =
      i % 3 === 0
        ? { '+': [{ var: [`spend_by_category.${category}`, 0] }, { '*': [{ var: ['orders_count', 0] }, 2] }] }
        : i % 3 === 1
          ? { var: [`spend_by_category.${category}`, 0] }
          : null;
    await sql`
      insert into offers (name, title, url, category, eligibility, score, priority, valid_from, valid_to,
        cap_per_customer_count, cap_per_customer_days, global_cap, exclude_if_bought_within_days, fallback)
      values (${`offer ${i}`}, ${`Offer ${i}`}, ${`https://shop.example/o/${i}`}, ${category},
        ${eligibility == null ? null : sql.json(eligibility as never)}, ${score === null ? null : sql.json(score as never)},
        ${i % 10}, ${i === 7 ? new Date('2026-07-01T00:00:00Z') : null}, ${i === 8 ? new Date('2026-05-01T00:00:00Z') : null},
        ${i % 4 === 0 ? 2 : null}, ${i % 4 === 0 ? 14 : null}, ${i % 9 === 0 ? CUSTOMERS / 4 : null},
        ${i % 5 === 0 ? 30 : null}, ${i >= OFFERS - 4})`;
  }
  // Earlier campaigns: about one impression per customer against the capped offers.
  await sql`
    insert into offer_impressions (offer_id, customer_id, message_id, campaign_id, at)
    select o.id, c.id, c.id * 100 + o.id, 1, ${NOW}::timestamptz - make_interval(days => (c.id % 20)::int)
    from customers c join offers o on o.cap_per_customer_count is not null and (c.id + o.id) % 12 = 0`;
  await sql`analyze`;
}

const pages = (ids: number[]) => {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += PAGE) out.push(ids.slice(i, i + PAGE));
  return out;
};

const bench: Bench = {
  name: 'offers-decide',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('offers', 8, async (sql) => {
      const seedStarted = performance.now();
      await seed(sql);
      const seedSeconds = (performance.now() - seedStarted) / 1000;
      const ids = (await sql<{ id: number }[]>`select id from customers order by id`).map((r) => r.id);
      const catalogue = await loadCatalogue(sql);
      const nowMs = NOW.getTime();

      // End to end: pages of 1,000 through the batch API, database round trips included.
      const e2eStarted = performance.now();
      let decided = 0;
      const allocated = new Map<number, number>();
      for (const page of pages(ids)) {
        const decisions = await decideOffersBatch(sql, {
          customerIds: page,
          placements: PLACEMENTS,
          now: NOW,
          catalogue,
          allocated,
        });
        decided += decisions.size;
      }
      const e2eSeconds = (performance.now() - e2eStarted) / 1000;

      // In memory: the same facts prebuilt once for both loops.
      const factsStarted = performance.now();
      const facts: CustomerFacts[] = [];
      for (const page of pages(ids)) {
        const map = await loadCustomerFacts(sql, page, catalogue.offers, NOW);
        for (const id of page) {
          const f = map.get(id);
          if (f) facts.push(f);
        }
      }
      const factsSeconds = (performance.now() - factsStarted) / 1000;

      const offers = catalogue.offers;
      const baseline = () => {
        let sink = 0;
        for (const f of facts) {
          for (const o of offers) {
            try {
              if (o.eligibility?.(f.context)) sink++;
              const s = o.score?.(f.context);
              if (typeof s === 'number') sink += s;
            } catch {
              sink--;
            }
          }
        }
        return sink;
      };
      const decide = () => {
        let sink = 0;
        const shared = new Map<number, number>();
        for (const f of facts) {
          const d = decideForCustomer(offers, f, { placements: PLACEMENTS, now: nowMs, allocated: shared });
          sink += d.offers.length;
        }
        return sink;
      };
      // The learning ranker over the same facts: what it learned of each offer, overall and per cell.
      const stats = new Map<number, Map<string, ArmStats>>();
      for (const o of offers) {
        const arms = new Map<string, ArmStats>();
        const n = 1000 + o.id * 37;
        const conv = Math.round(n * (0.01 + (o.id % 7) * 0.005));
        arms.set(ALL_CELLS, {
          impressions: n,
          conversions: conv,
          revenue: conv * 40,
          revenue_sq: conv * 1800,
        });
        stats.set(o.id, arms);
      }
      const pooled = pooledOrderValue(stats);
      const settings = { objective: 'conversion' as const, cells: true, exploration: 0.05 };
      const decideLearned = () => {
        let sink = 0;
        const shared = new Map<number, number>();
        for (const [i, f] of facts.entries()) {
          const cell = cellOf(f.context as CustomerContext);
          const learned = learnedRanking(stats, settings, cell, random(seedOf(`campaign:1:${i}`)), pooled);
          const d = decideForCustomer(
            offers,
            { ...f, learned },
            { placements: PLACEMENTS, now: nowMs, allocated: shared },
          );
          sink += d.offers.length;
        }
        return sink;
      };
      // Warm both, then alternate three rounds each and keep the best of each.
      baseline();
      decide();
      decideLearned();
      let best = {
        baseline: Number.POSITIVE_INFINITY,
        decide: Number.POSITIVE_INFINITY,
        learned: Number.POSITIVE_INFINITY,
      };
      let placed = 0;
      for (let round = 0; round < 3; round++) {
        let t = performance.now();
        baseline();
        best = { ...best, baseline: Math.min(best.baseline, (performance.now() - t) / 1000) };
        t = performance.now();
        placed = decide();
        best = { ...best, decide: Math.min(best.decide, (performance.now() - t) / 1000) };
        t = performance.now();
        decideLearned();
        best = { ...best, learned: Math.min(best.learned, (performance.now() - t) / 1000) };
      }
      const learnedRate = facts.length / best.learned;
      const inMemory = facts.length / best.decide;
      const rawLoop = facts.length / best.baseline;
      const endToEnd = decided / e2eSeconds;
      const results: BenchResult[] = [
        {
          name: 'offers-decide',
          value: inMemory,
          unit: 'decisions/s',
          baseline: 'same compiled rules in a plain loop over the same in-memory contexts',
          baseline_value: rawLoop,
          ratio: inMemory / rawLoop,
          target: 0.5,
          notes: {
            customers: facts.length,
            offers: offers.length,
            placements: PLACEMENTS,
            offers_placed: placed,
            end_to_end_decisions_per_s: Math.round(endToEnd),
            end_to_end_ratio: (endToEnd / rawLoop).toFixed(2),
            facts_load_s: factsSeconds.toFixed(1),
            seed_s: seedSeconds.toFixed(1),
          },
        },
        {
          // The learning ranker's cost: a seeded generator and a Beta draw per eligible offer.
          name: 'offers-decide-learning',
          value: learnedRate,
          unit: 'decisions/s',
          baseline: 'the same decisions ranked by priority (decideForCustomer without the learner)',
          baseline_value: inMemory,
          ratio: learnedRate / inMemory,
          notes: { customers: facts.length, offers: offers.length, placements: PLACEMENTS, cells: 'on' },
        },
      ];
      return results;
    });
  },
};

export default bench;
