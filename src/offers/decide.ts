import type { Db } from '../db/sql.js';
import { inHoldout } from '../holdouts/assign.js';
import { type RecommendationRow, selectFeedsMany } from '../products/recommend-store.js';
import { buildContexts, type CustomerContext } from '../rules/context.js';
import { resolveLocale } from '../templates/locale.js';
import {
  cellOf,
  type LearnedStats,
  type LearnerSettings,
  learnedRanking,
  pooledOrderValue,
} from './learner.js';
import { prepareOffer } from './prepare.js';
import { type FilledProduct, feedsNeeded, fillProduct } from './product-fill.js';
import { type CustomerFacts, type Decision, decideForCustomer, type PreparedOffer } from './rank.js';
import { loadLearnedStats } from './ranker-store.js';
import { random, seedOf } from './seeded-random.js';
import { countRecentImpressions, loadLiveOffers, loadSensitiveAttributes } from './store.js';

export type { DecidedOffer, Decision, Excluded, Reason } from './rank.js';

/** The live catalogue, compiled once and reusable for every page of a campaign. */
export interface Catalogue {
  offers: PreparedOffer[];
}

/** Loads and compiles the live catalogue (two queries); pass it to several batches to load it once. */
export async function loadCatalogue(sql: Db): Promise<Catalogue> {
  const [rows, attributes] = await Promise.all([loadLiveOffers(sql), loadSensitiveAttributes(sql)]);
  return { offers: rows.map((row) => prepareOffer(row, attributes)) };
}

export interface BatchInput {
  customerIds: readonly number[];
  placements: number;
  now: Date;
  explain?: boolean;
  /** A catalogue loaded earlier (the planner loads it once per campaign); loaded here if absent. */
  catalogue?: Catalogue;
  /**
   * Offers already handed out by earlier batches of the same run, counted against global caps;
   * updated with this batch's decisions. Pass the same map to every page of a campaign.
   */
  allocated?: Map<number, number>;
  /** Rank by the learning ranker instead of the offers' scores (see LearningInput). */
  learning?: LearningInput;
}

/** The learning ranker of a run: its settings, what was learned, and the seed of its draws. */
export interface LearningInput {
  settings: LearnerSettings;
  /** Loaded here if absent; a producer deciding many pages loads it once. */
  stats?: LearnedStats;
  /**
   * Each customer's draws are seeded by `seedKey:customer id` (a campaign's `campaign:12`), so
   * the same statistics decide the same and a test is reproducible.
   */
  seedKey: string;
  /**
   * A customer's own seed key instead of `seedKey:id`, where one producer decides the same
   * customer many times (a trigger: the event that fired it, so each firing draws anew).
   */
  customerSeeds?: ReadonlyMap<number, string>;
}

/**
 * The facts every customer of a batch needs, in one round of queries run together: the contexts
 * (which carry the last purchase per category and the granted consents) and the impressions
 * inside every capped offer's window.
 */
export async function loadCustomerFacts(
  sql: Db,
  ids: number[],
  offers: readonly PreparedOffer[],
  now: Date,
): Promise<Map<number, CustomerFacts>> {
  const capped = offers.filter((o) => o.capCount !== null && o.capDays !== null);
  const categories = [
    ...new Set(offers.filter((o) => o.excludeDays !== null && o.category !== null).map((o) => o.category!)),
  ];
  const needsConsents = offers.some((o) => o.sensitive.length > 0);
  const withHoldout = offers.filter((o) => o.holdoutPercent > 0);
  const aboutProducts = offers.filter((o) => o.product);

  const [contexts, impressions] = await Promise.all([
    buildContexts(sql, ids, now),
    countRecentImpressions(sql, {
      customerIds: ids,
      offerIds: capped.map((o) => o.id),
      days: capped.map((o) => o.capDays!),
      now,
    }),
  ]);
  // The stored feeds product offers are filled from, for the whole page in one statement, each
  // customer's titles in their locale (known from their context).
  let feeds: Map<number, RecommendationRow[]> | undefined;
  if (aboutProducts.length > 0) {
    const asked = ids.filter((id) => contexts.get(id) !== undefined);
    const needed = feedsNeeded(aboutProducts.map((o) => o.product!));
    const lists = await selectFeedsMany(
      sql,
      asked.map((id) => ({ customerId: id, locale: resolveLocale(contexts.get(id)!.locale), feeds: needed })),
    );
    feeds = new Map(asked.map((id, i) => [id, lists[i]!]));
  }

  const facts = new Map<number, CustomerFacts>();
  for (const id of ids) {
    const context = contexts.get(id);
    // Unknown or erased customers get no decision.
    if (context === undefined || context.erased) continue;
    const f: CustomerFacts = { context };
    if (categories.length > 0) {
      const last = new Map<string, number>();
      for (const category of categories) {
        const at = context.last_purchase_by_category[category];
        if (at !== undefined) last.set(category, Date.parse(at));
      }
      f.lastBought = last;
    }
    if (needsConsents) f.consents = new Set(context.consents);
    if (feeds) {
      const rows = feeds.get(id) ?? [];
      const locale = resolveLocale(context.locale);
      const filled = new Map<number, FilledProduct>();
      for (const o of aboutProducts) {
        const product = fillProduct(o.product!, rows, locale);
        if (product) filled.set(o.id, product);
      }
      f.products = filled;
    }
    if (withHoldout.length > 0) {
      const held = withHoldout.filter((o) => inHoldout(`offer:${o.id}`, id, o.holdoutPercent));
      if (held.length > 0) f.heldOut = new Set(held.map((o) => o.id));
    }
    facts.set(id, f);
  }
  for (const r of impressions) {
    const f = facts.get(r.customer_id);
    if (!f) continue;
    const map = (f.impressions as Map<number, number> | undefined) ?? new Map<number, number>();
    map.set(r.offer_id, r.n);
    f.impressions = map;
  }
  return facts;
}

/**
 * Decides offers for a page of customers with one round of queries and the compiled catalogue
 * reused. Customers are decided in id order (global caps are shared in that order), so the same
 * data and `now` give the same decisions. Unknown or erased customers are absent from the map.
 */
export async function decideOffersBatch(sql: Db, input: BatchInput): Promise<Map<number, Decision>> {
  const ids = [...new Set(input.customerIds)].sort((a, b) => a - b);
  const catalogue = input.catalogue ?? (await loadCatalogue(sql));
  const nowMs = input.now.getTime();
  // Outside explain, offers outside their window cannot be chosen by anyone: drop them once.
  const offers = input.explain
    ? catalogue.offers
    : catalogue.offers.filter(
        (o) => (o.validFrom === null || nowMs >= o.validFrom) && (o.validTo === null || nowMs < o.validTo),
      );
  const decisions = new Map<number, Decision>();
  if (ids.length === 0) return decisions;
  const facts = await loadCustomerFacts(sql, ids, offers, input.now);
  const allocated = input.allocated ?? new Map<number, number>();
  const options = { placements: input.placements, now: nowMs, explain: input.explain, allocated };
  const learning = input.learning;
  const stats = learning ? (learning.stats ?? (await loadLearnedStats(sql))) : undefined;
  const pooled = stats ? pooledOrderValue(stats) : undefined;
  for (const id of ids) {
    const f = facts.get(id);
    if (!f) continue;
    if (learning && stats && pooled) {
      const cell = cellOf(f.context as CustomerContext);
      const uniform = random(seedOf(learning.customerSeeds?.get(id) ?? `${learning.seedKey}:${id}`));
      f.learned = learnedRanking(stats, learning.settings, cell, uniform, pooled);
    }
    decisions.set(id, decideForCustomer(offers, f, options));
  }
  return decisions;
}

/** One customer's decision (the HTTP route and the customer card); undefined for an unknown customer. */
export async function decideOffers(
  sql: Db,
  input: { customerId: number; placements: number; now: Date; explain?: boolean; learning?: LearningInput },
): Promise<Decision | undefined> {
  const decisions = await decideOffersBatch(sql, {
    customerIds: [input.customerId],
    placements: input.placements,
    now: input.now,
    explain: input.explain ?? false,
    ...(input.learning ? { learning: input.learning } : {}),
  });
  return decisions.get(input.customerId);
}
