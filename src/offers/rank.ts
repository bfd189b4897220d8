/**
 * The pure decision core: given a prepared catalogue and what is known about one customer,
 * choose up to K offers. No I/O, no clock: everything comes in, so the same inputs give the same
 * decision (the property tests rely on it).
 */

import type { LearnedEstimate, LearnedRanking } from './learner.js';
import type { FilledProduct } from './product-fill.js';
import type { OfferProduct } from './schema.js';

/** A compiled rule: evaluates against a customer context; may throw. */
export type RuleFn = (data: unknown) => unknown;

/** An offer ready to be decided on: rules compiled, dates as epoch ms, sensitive reads resolved. */
export interface PreparedOffer {
  id: number;
  name: string;
  title: string;
  text: string | null;
  image_url: string | null;
  url: string | null;
  code: string | null;
  category: string | null;
  priority: number;
  fallback: boolean;
  validFrom: number | null;
  validTo: number | null;
  capCount: number | null;
  capDays: number | null;
  globalCap: number | null;
  shownCount: number;
  excludeDays: number | null;
  eligibility: RuleFn | null;
  score: RuleFn | null;
  /** Sensitive attributes the offer's rules read, each with the consent purpose it needs. */
  sensitive: ReadonlyArray<{ attribute: string; purpose: string }>;
  /** The offer's own holdout (0: none): see CustomerFacts.heldOut. */
  holdoutPercent: number;
  /** Free unique codes, when the offer draws them from a pool (null: no pool). */
  codesFree?: number | null | undefined;
  /** Where an offer about one of the customer's recommended products takes it (see CustomerFacts.products). */
  product?: OfferProduct | null | undefined;
}

/** What the decision needs to know about one customer beyond the catalogue. */
export interface CustomerFacts {
  /** The rule evaluation context (as built by rules/context). */
  context: unknown;
  /** Impressions per offer id inside that offer's cap window (only offers with a per-customer cap). */
  impressions?: ReadonlyMap<number, number> | undefined;
  /** Last purchase time (epoch ms) per category. */
  lastBought?: ReadonlyMap<string, number> | undefined;
  /** Consent purposes the customer has granted (latest row per purpose). */
  consents?: ReadonlySet<string> | undefined;
  /**
   * Offers whose holdout the customer is in: never chosen for them; where one would have been
   * chosen, the next-ranked offer takes its place and the decision lists it in `held_out`.
   */
  heldOut?: ReadonlySet<number> | undefined;
  /**
   * The learning ranker's draws (learner.ts): eligible targeted offers are ranked by a draw from
   * their learned posterior instead of their score rule; checks, holdouts and fallbacks are as ever.
   */
  learned?: LearnedRanking | undefined;
  /**
   * The product each product-targeted offer is filled with for this customer (offer id →
   * product); such an offer absent here has no product for them and is not eligible.
   */
  products?: ReadonlyMap<number, FilledProduct> | undefined;
}

export interface DecidedOffer {
  offer_id: number;
  name: string;
  title: string;
  text: string | null;
  image_url: string | null;
  url: string | null;
  code: string | null;
  category: string | null;
  score: number;
  priority: number;
  fallback: boolean;
  /** A product-targeted offer's product for this customer. */
  product?: FilledProduct;
  /** With explain and the learning ranker: the learned estimate behind `score` (the draw). */
  learned?: LearnedEstimate;
}

export type ReasonCode =
  | 'not_started'
  | 'expired'
  | 'global_cap'
  | 'customer_cap'
  | 'consent'
  | 'recently_bought'
  | 'rule_false'
  | 'rule_error'
  | 'score_error'
  | 'outranked'
  | 'fallback_not_needed'
  | 'holdout'
  | 'codes_exhausted'
  | 'no_product';

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface Excluded {
  offer_id: number;
  name: string;
  reasons: Reason[];
}

export interface Decision {
  offers: DecidedOffer[];
  excluded?: Excluded[];
  /** Offers that would have been chosen but the customer is in their holdout (absent: none). */
  held_out?: number[];
  /** Decided by the learning ranker: the customer's cell, and whether they were an exploration draw. */
  ranker?: { cell: string; explore: boolean };
}

export interface DecideOptions {
  placements: number;
  /** Decision time, epoch ms. */
  now: number;
  explain?: boolean | undefined;
  /**
   * Offers already handed out by this run (batch or planner), counted against global caps so a
   * batch of 1,000 decisions cannot overrun one. Updated with this decision's offers.
   */
  allocated?: Map<number, number> | undefined;
}

const DAY = 86_400_000;

/** JSON Logic truthiness: an empty array is false. */
export const truthy = (v: unknown): boolean => (Array.isArray(v) ? v.length > 0 : Boolean(v));

/** Ranking order: score desc, priority desc, offer id asc (stable, total). */
export function compareRanked(a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.offer.priority !== b.offer.priority) return b.offer.priority - a.offer.priority;
  return a.offer.id - b.offer.id;
}

interface Candidate {
  offer: PreparedOffer;
  score: number;
}

const errorText = (error: unknown) => {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
};

const describeValue = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  try {
    const text = JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return typeof v;
  }
};

/**
 * Codes of an offer's pool not yet handed out: free codes less those this run allocated (each
 * message claims one at send time). Infinity for an offer without a pool.
 */
function codesLeft(offer: PreparedOffer, allocated: Map<number, number> | undefined): number {
  if (offer.codesFree === null || offer.codesFree === undefined) return Number.POSITIVE_INFINITY;
  return offer.codesFree - (allocated?.get(offer.id) ?? 0);
}

/** The checks that do not depend on the rules, as one boolean: the hot path of a batch. */
function passesHardChecks(
  offer: PreparedOffer,
  facts: CustomerFacts,
  now: number,
  allocated: Map<number, number> | undefined,
): boolean {
  if (offer.validFrom !== null && now < offer.validFrom) return false;
  if (offer.validTo !== null && now >= offer.validTo) return false;
  if (offer.globalCap !== null && offer.shownCount + (allocated?.get(offer.id) ?? 0) >= offer.globalCap) {
    return false;
  }
  if (offer.capCount !== null && (facts.impressions?.get(offer.id) ?? 0) >= offer.capCount) return false;
  if (codesLeft(offer, allocated) <= 0) return false;
  if (offer.product && !facts.products?.has(offer.id)) return false;
  for (const s of offer.sensitive) if (!facts.consents?.has(s.purpose)) return false;
  if (offer.excludeDays !== null && offer.category !== null) {
    const last = facts.lastBought?.get(offer.category);
    if (last !== undefined && last <= now && now - last < offer.excludeDays * DAY) return false;
  }
  return true;
}

/** The same checks as `passesHardChecks`, returning every reason that fails (for explain). */
function hardReasons(
  offer: PreparedOffer,
  facts: CustomerFacts,
  now: number,
  allocated: Map<number, number> | undefined,
): Reason[] {
  const reasons: Reason[] = [];
  if (offer.validFrom !== null && now < offer.validFrom) {
    reasons.push({ code: 'not_started', message: `valid from ${new Date(offer.validFrom).toISOString()}` });
  }
  if (offer.validTo !== null && now >= offer.validTo) {
    reasons.push({ code: 'expired', message: `valid until ${new Date(offer.validTo).toISOString()}` });
  }
  if (offer.globalCap !== null) {
    const used = offer.shownCount + (allocated?.get(offer.id) ?? 0);
    if (used >= offer.globalCap) {
      reasons.push({ code: 'global_cap', message: `shown ${used} times in total (cap ${offer.globalCap})` });
    }
  }
  if (codesLeft(offer, allocated) <= 0) {
    reasons.push({ code: 'codes_exhausted', message: 'no unique code is left in the offer’s pool' });
  }
  if (offer.product && !facts.products?.has(offer.id)) {
    reasons.push({
      code: 'no_product',
      message: 'the customer has no recommended product matching the offer’s product source',
    });
  }
  if (offer.capCount !== null) {
    const shown = facts.impressions?.get(offer.id) ?? 0;
    if (shown >= offer.capCount) {
      reasons.push({
        code: 'customer_cap',
        message: `shown ${shown} times to this customer in the last ${offer.capDays} days (cap ${offer.capCount})`,
      });
    }
  }
  for (const s of offer.sensitive) {
    if (!facts.consents?.has(s.purpose)) {
      reasons.push({
        code: 'consent',
        message: `a rule reads the sensitive attribute ${s.attribute} and the customer has not consented to ${s.purpose}`,
      });
    }
  }
  if (offer.excludeDays !== null && offer.category !== null) {
    const last = facts.lastBought?.get(offer.category);
    if (last !== undefined && last <= now && now - last < offer.excludeDays * DAY) {
      reasons.push({
        code: 'recently_bought',
        message: `bought in ${offer.category} on ${new Date(last).toISOString()}, within ${offer.excludeDays} days`,
      });
    }
  }
  return reasons;
}

/** The hot path of `evaluate`: the score, or NaN when the offer is out (no allocation). */
function scoreOf(offer: PreparedOffer, context: unknown): number {
  try {
    if (offer.eligibility) {
      const ok = offer.eligibility(context);
      if (!ok || (Array.isArray(ok) && ok.length === 0)) return Number.NaN;
    }
    if (!offer.score) return offer.priority;
    const score = offer.score(context);
    return typeof score === 'number' && Number.isFinite(score) ? score : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Evaluates the rules: the score (a finite number) or the reason the offer is left out. */
function evaluate(offer: PreparedOffer, context: unknown): number | Reason {
  if (offer.eligibility) {
    let ok: unknown;
    try {
      ok = offer.eligibility(context);
    } catch (error) {
      return { code: 'rule_error', message: `the eligibility rule failed: ${errorText(error)}` };
    }
    if (!truthy(ok)) return { code: 'rule_false', message: 'the eligibility rule is false' };
  }
  if (!offer.score) return offer.priority;
  let score: unknown;
  try {
    score = offer.score(context);
  } catch (error) {
    return { code: 'score_error', message: `the score rule failed: ${errorText(error)}` };
  }
  if (typeof score !== 'number' || !Number.isFinite(score)) {
    return {
      code: 'score_error',
      message: `the score rule returned ${describeValue(score)}, not a finite number`,
    };
  }
  return score;
}

/** Would a candidate of this score enter a full top-k list? (Saves allocating losers.) */
function beats(offer: PreparedOffer, score: number, last: Candidate): boolean {
  if (score !== last.score) return score > last.score;
  if (offer.priority !== last.offer.priority) return offer.priority > last.offer.priority;
  return offer.id < last.offer.id;
}

interface Split {
  targeted: PreparedOffer[];
  fallback: PreparedOffer[];
  /** Per offer of each list: has a check beyond its rules. */
  targetedChecks: boolean[];
  fallbackChecks: boolean[];
}
/** Offers with a check beyond their rules (window, caps, consent, recent purchase). */
const hasHardChecks = (o: PreparedOffer) =>
  o.validFrom !== null ||
  o.validTo !== null ||
  o.globalCap !== null ||
  o.capCount !== null ||
  o.sensitive.length > 0 ||
  (o.codesFree !== null && o.codesFree !== undefined) ||
  (o.product !== null && o.product !== undefined) ||
  (o.excludeDays !== null && o.category !== null);

// Catalogues are reused across thousands of customers: split them once.
const splits = new WeakMap<readonly PreparedOffer[], Split>();
function split(offers: readonly PreparedOffer[]): Split {
  let s = splits.get(offers);
  if (!s) {
    const targeted = offers.filter((o) => !o.fallback);
    const fallback = offers.filter((o) => o.fallback);
    s = {
      targeted,
      fallback,
      targetedChecks: targeted.map(hasHardChecks),
      fallbackChecks: fallback.map(hasHardChecks),
    };
    splits.set(offers, s);
  }
  return s;
}

/** Fills `top` with the best eligible offers of `list` (no explanation: the batch's hot path). */
function rankFast(
  list: readonly PreparedOffer[],
  checks: readonly boolean[],
  top: Candidate[],
  facts: CustomerFacts,
  k: number,
  now: number,
  allocated: Map<number, number> | undefined,
  learned: LearnedRanking | undefined,
): void {
  const context = facts.context;
  for (let i = 0; i < list.length; i++) {
    const offer = list[i]!;
    if (checks[i] && !passesHardChecks(offer, facts, now, allocated)) continue;
    let score = scoreOf(offer, context);
    if (Number.isNaN(score)) continue;
    if (learned) score = learned.sample(offer.id);
    if (top.length === k && !beats(offer, score, top[k - 1]!)) continue;
    pushTop(top, { offer, score }, k);
  }
}

/** Inserts into a list kept sorted and no longer than k (k is small: placements). */
function pushTop(top: Candidate[], c: Candidate, k: number): Candidate | undefined {
  if (k === 0) return c;
  if (top.length === k) {
    const last = top[k - 1]!;
    if (compareRanked(c, last) >= 0) return c;
  }
  // Insertion by shifting: k is a handful, and splice allocates.
  const dropped = top.length === k ? top[k - 1] : undefined;
  let i = dropped ? k - 1 : top.length;
  while (i > 0 && compareRanked(c, top[i - 1]!) < 0) {
    top[i] = top[i - 1]!;
    i--;
  }
  top[i] = c;
  return dropped;
}

const toDecided = (c: Candidate, facts: CustomerFacts): DecidedOffer => {
  const decided = decidedOf(c);
  const product = c.offer.product ? facts.products?.get(c.offer.id) : undefined;
  if (product) decided.product = product;
  return decided;
};

const decidedOf = (c: Candidate): DecidedOffer => ({
  offer_id: c.offer.id,
  name: c.offer.name,
  title: c.offer.title,
  text: c.offer.text,
  image_url: c.offer.image_url,
  url: c.offer.url,
  code: c.offer.code,
  category: c.offer.category,
  score: c.score,
  priority: c.offer.priority,
  fallback: c.offer.fallback,
});

/**
 * Chooses up to `placements` offers for one customer: targeted offers ranked by score, priority,
 * id; fallback offers (same checks) fill the places left. With `explain`, every other offer of
 * the catalogue is listed with all the reasons it was left out (in catalogue order).
 */
export function decideForCustomer(
  offers: readonly PreparedOffer[],
  facts: CustomerFacts,
  options: DecideOptions,
): Decision {
  const k = Math.max(0, Math.floor(options.placements));
  if (options.explain === true) return decideExplained(offers, facts, options, k);
  const { now, allocated } = options;
  const top: Candidate[] = [];
  const fallbacks: Candidate[] = [];
  // Held-out offers take places in the ranking, then give them up to the next ones.
  const extra = facts.heldOut?.size ?? 0;
  if (k > 0) {
    const s = split(offers);
    rankFast(s.targeted, s.targetedChecks, top, facts, k + extra, now, allocated, facts.learned);
    // Fallbacks are only evaluated when places are left.
    const live = extra > 0 ? countLive(top, facts.heldOut!) : top.length;
    if (live < k && s.fallback.length > 0) {
      rankFast(s.fallback, s.fallbackChecks, fallbacks, facts, k - live + extra, now, allocated, undefined);
    }
  }
  const ranker = rankerOf(facts);
  if (extra === 0) return { offers: choose(top, fallbacks, k, allocated, facts), ...ranker };
  const picked = withoutHeldOut(top, fallbacks, k, facts.heldOut!);
  return {
    offers: choose(picked.top, picked.fallbacks, k, allocated, facts),
    ...(picked.heldOut.length > 0 ? { held_out: picked.heldOut.map((c) => c.offer.id) } : {}),
    ...ranker,
  };
}

const rankerOf = (facts: CustomerFacts) =>
  facts.learned ? { ranker: { cell: facts.learned.cell, explore: facts.learned.explore } } : {};

const countLive = (list: readonly Candidate[], held: ReadonlySet<number>) =>
  list.reduce((n, c) => (held.has(c.offer.id) ? n : n + 1), 0);

/**
 * The ranking with held-out offers taken out: `heldOut` are those that would have had one of
 * the k places (their holdout group, whom the offer report compares with those shown it),
 * `rest` what is left beyond the k places (held-out offers that would not have been shown, and
 * the extra candidates ranked to fill in for them).
 */
function withoutHeldOut(
  top: readonly Candidate[],
  fallbacks: readonly Candidate[],
  k: number,
  held: ReadonlySet<number>,
): { top: Candidate[]; fallbacks: Candidate[]; heldOut: Candidate[]; rest: Candidate[] } {
  const out = {
    top: [] as Candidate[],
    fallbacks: [] as Candidate[],
    heldOut: [] as Candidate[],
    rest: [] as Candidate[],
  };
  // Without holdouts the places go to the top k targeted offers, then to fallbacks.
  const walk = (list: readonly Candidate[], into: Candidate[], firstPlace: number) => {
    list.forEach((c, i) => {
      if (held.has(c.offer.id)) (firstPlace + i < k ? out.heldOut : out.rest).push(c);
      else if (out.top.length + out.fallbacks.length < k) into.push(c);
      else out.rest.push(c);
    });
  };
  walk(top, out.top, 0);
  walk(fallbacks, out.fallbacks, Math.min(k, top.length));
  return out;
}

/** The chosen offers: the top targeted ones, then fallbacks for the places left; counts global caps. */
function choose(
  top: readonly Candidate[],
  fallbacks: readonly Candidate[],
  k: number,
  allocated: Map<number, number> | undefined,
  facts: CustomerFacts,
): DecidedOffer[] {
  // Sized up front: this runs once per customer of a campaign.
  const chosen: DecidedOffer[] = new Array(Math.min(k, top.length + fallbacks.length));
  for (let i = 0; i < chosen.length; i++) {
    const c = i < top.length ? top[i]! : fallbacks[i - top.length]!;
    chosen[i] = toDecided(c, facts);
    if (allocated && (c.offer.globalCap !== null || (c.offer.codesFree ?? null) !== null)) {
      allocated.set(c.offer.id, (allocated.get(c.offer.id) ?? 0) + 1);
    }
  }
  return chosen;
}

/** `decideForCustomer` with every other offer of the catalogue listed with all its reasons. */
function decideExplained(
  offers: readonly PreparedOffer[],
  facts: CustomerFacts,
  options: DecideOptions,
  k: number,
): Decision {
  const { now, allocated } = options;
  const top: Candidate[] = [];
  const fallbacks: Candidate[] = [];
  const reasonsById = new Map<number, Reason[]>();
  const outranked: Candidate[] = [];
  const places = k + (facts.heldOut?.size ?? 0);
  const learned = new Map<number, LearnedEstimate>();
  // Targeted offers first, then fallbacks, each offer with every reason that applies.
  for (let pass = 0; pass < 2; pass++) {
    const wantFallback = pass === 1;
    const list = wantFallback ? fallbacks : top;
    for (const offer of offers) {
      if (offer.fallback !== wantFallback) continue;
      const reasons = hardReasons(offer, facts, now, allocated);
      // Rules are not run when a consent is missing: their answer would rest on absent data.
      if (!reasons.some((r) => r.code === 'consent')) {
        const result = evaluate(offer, facts.context);
        if (typeof result !== 'number') reasons.push(result);
        else if (reasons.length === 0) {
          let score = result;
          if (facts.learned && !wantFallback) {
            score = facts.learned.sample(offer.id);
            learned.set(offer.id, facts.learned.describe(offer.id, score));
          }
          const dropped = pushTop(list, { offer, score }, places);
          if (dropped) outranked.push(dropped);
          continue;
        }
      }
      reasonsById.set(offer.id, reasons);
    }
  }
  const held = facts.heldOut ?? new Set<number>();
  const picked = withoutHeldOut(top, fallbacks, k, held);
  const chosen = choose(picked.top, picked.fallbacks, k, allocated, facts);
  for (const d of chosen) {
    const estimate = learned.get(d.offer_id);
    if (estimate) d.learned = estimate;
  }
  // An outranked offer's message says what the learner knows of it.
  const learnedText = (id: number) => {
    const estimate = learned.get(id);
    return estimate ? `; learned ${estimate.text}` : '';
  };
  for (const c of picked.heldOut) {
    reasonsById.set(c.offer.id, [
      {
        code: 'holdout',
        message: `eligible with score ${c.score}; this customer is in the offer's ${c.offer.holdoutPercent} % holdout, so the next offer takes its place`,
      },
    ]);
  }
  for (const c of picked.rest) {
    if (c.offer.fallback) continue;
    reasonsById.set(c.offer.id, [
      {
        code: 'outranked',
        message: `eligible with score ${c.score}, ranked below the ${k} chosen${learnedText(c.offer.id)}`,
      },
    ]);
  }
  for (const c of outranked) {
    reasonsById.set(c.offer.id, [
      {
        code: 'outranked',
        message: `eligible with score ${c.score}, ranked below the ${k} chosen${learnedText(c.offer.id)}`,
      },
    ]);
  }
  for (const c of picked.rest.filter((r) => r.offer.fallback)) {
    reasonsById.set(c.offer.id, [
      {
        code: 'fallback_not_needed',
        message: `eligible fallback (score ${c.score}); the places were filled`,
      },
    ]);
  }
  return {
    offers: chosen,
    ...(picked.heldOut.length > 0 ? { held_out: picked.heldOut.map((c) => c.offer.id) } : {}),
    ...rankerOf(facts),
    excluded: offers
      .filter((o) => reasonsById.has(o.id))
      .map((o) => ({ offer_id: o.id, name: o.name, reasons: reasonsById.get(o.id)! })),
  };
}
