import { compileRule, varsUsed } from '../rules/compile.js';
import type { PreparedOffer, RuleFn } from './rank.js';
import type { OfferRow } from './store.js';

export interface SensitiveAttribute {
  key: string;
  purpose: string;
}

/**
 * The sensitive attributes a set of `var` paths reads. A free attribute may be addressed at the top
 * of the context or under `attributes.`, and a path into it (`health.allergies`) reads it too.
 */
export function sensitiveReads(
  vars: readonly string[],
  attributes: readonly SensitiveAttribute[],
): Array<{ attribute: string; purpose: string }> {
  const out: Array<{ attribute: string; purpose: string }> = [];
  for (const a of attributes) {
    const hit = vars.some((v) => {
      const path = v.startsWith('attributes.') ? v.slice('attributes.'.length) : v;
      return v === '' || v === 'attributes' || path === a.key || path.startsWith(`${a.key}.`);
    });
    if (hit) out.push({ attribute: a.key, purpose: a.purpose });
  }
  return out;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

/** A stored rule that no longer compiles fails at evaluation, so it excludes its offer, not the batch. */
function compileOrFail(rule: unknown): RuleFn {
  try {
    return compileRule(rule);
  } catch (error) {
    return () => {
      throw error;
    };
  }
}

/** Compiles an offer's rules (cached by rule content in rules/compile) and resolves its sensitive reads. */
export function prepareOffer(row: OfferRow, attributes: readonly SensitiveAttribute[]): PreparedOffer {
  const hasEligibility = row.eligibility !== null && row.eligibility !== undefined;
  const hasScore = row.score !== null && row.score !== undefined;
  const vars = [
    ...(hasEligibility ? varsUsed(row.eligibility) : []),
    ...(hasScore ? varsUsed(row.score) : []),
  ];
  return {
    id: row.id,
    name: row.name,
    title: row.title,
    text: row.text,
    image_url: row.image_url,
    url: row.url,
    code: row.code,
    category: row.category,
    priority: row.priority,
    fallback: row.fallback,
    validFrom: ms(row.valid_from),
    validTo: ms(row.valid_to),
    capCount: row.cap_per_customer_days === null ? null : row.cap_per_customer_count,
    capDays: row.cap_per_customer_count === null ? null : row.cap_per_customer_days,
    globalCap: row.global_cap,
    shownCount: row.shown_count,
    excludeDays: row.exclude_if_bought_within_days,
    eligibility: hasEligibility ? compileOrFail(row.eligibility) : null,
    score: hasScore ? compileOrFail(row.score) : null,
    sensitive: sensitiveReads(vars, attributes),
    holdoutPercent: row.holdout_percent,
    codesFree: row.code_pool ? row.codes_free : null,
    product: row.product,
  };
}
