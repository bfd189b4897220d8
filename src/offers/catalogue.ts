import type { Db } from '../db/sql.js';
import { AppError, type FieldError, invalid, notFound } from '../http/problem.js';
import { assertSensitiveUseDeclared } from '../privacy/guard.js';
import { assertValidRule } from '../rules/compile.js';
import type { OfferCreateInput, OfferJson, OfferPatchInput } from './schema.js';
import {
  findOffer,
  insertOffer,
  type OfferRow,
  type OfferValues,
  softDeleteOffer,
  updateOffer,
} from './store.js';

// Operators whose result is never a number: a score rule built on one is a mistake caught at save.
const NON_NUMERIC_OPS = new Set([
  '==',
  '===',
  '!=',
  '!==',
  '!',
  '!!',
  'and',
  'or',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'cat',
  'substr',
  'some',
  'all',
  'none',
  'map',
  'filter',
  'merge',
  'missing',
  'missing_some',
]);

/**
 * Field errors for a score rule that can be seen not to be numeric without data: a literal that is
 * not a number, or a comparison/logic/string operator at the top (or in an `if` branch).
 */
export function nonNumericScore(rule: unknown, path = 'score'): FieldError[] {
  if (rule === null || rule === undefined) return [];
  if (typeof rule === 'number') return Number.isFinite(rule) ? [] : [{ path, message: 'must be finite' }];
  if (typeof rule !== 'object' || Array.isArray(rule)) {
    return [
      { path, message: 'a score rule must evaluate to a number, not a constant string, boolean or list' },
    ];
  }
  const keys = Object.keys(rule);
  if (keys.length !== 1) return [];
  const op = keys[0]!;
  if (NON_NUMERIC_OPS.has(op)) {
    return [{ path: `${path}.${op}`, message: `"${op}" does not return a number; a score must be numeric` }];
  }
  if (op === 'if' || op === '?:') {
    const args = (rule as Record<string, unknown>)[op];
    if (!Array.isArray(args)) return [];
    // if [c1, v1, c2, v2, ..., else]: the values are the odd positions and the last one.
    const out: FieldError[] = [];
    args.forEach((arg, i) => {
      const isValue = i % 2 === 1 || i === args.length - 1;
      if (isValue && !(arg === null)) out.push(...nonNumericScore(arg, `${path}.${op}.${i}`));
    });
    return out;
  }
  return [];
}

const collect = (errors: FieldError[], fn: () => void) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError && error.errors)
      errors.push(...error.errors.map((e) => ({ ...e, in: 'body' })));
    else throw error;
  }
};

/** Checks what the schema cannot: rules, the score's type, the window. Throws 422 naming fields. */
export function validateOfferValues(v: OfferValues): void {
  const errors: FieldError[] = [];
  if (v.eligibility !== null && v.eligibility !== undefined) {
    collect(errors, () => assertValidRule(v.eligibility, 'eligibility'));
  }
  if (v.score !== null && v.score !== undefined) {
    const before = errors.length;
    collect(errors, () => assertValidRule(v.score, 'score'));
    if (errors.length === before) errors.push(...nonNumericScore(v.score).map((e) => ({ ...e, in: 'body' })));
  }
  if (v.valid_from && v.valid_to && v.valid_to.getTime() <= v.valid_from.getTime()) {
    errors.push({ path: 'valid_to', in: 'body', message: 'must be after valid_from' });
  }
  if (errors.length > 0) throw invalid(errors);
}

const date = (s: string | null | undefined) => (s === null || s === undefined ? null : new Date(s));

function valuesFromCreate(input: OfferCreateInput): OfferValues {
  return {
    name: input.name,
    title: input.title,
    text: input.text ?? null,
    image_url: input.image_url ?? null,
    url: input.url ?? null,
    code: input.code ?? null,
    category: input.category ?? null,
    eligibility: input.eligibility ?? null,
    score: input.score ?? null,
    priority: input.priority ?? 0,
    valid_from: date(input.valid_from),
    valid_to: date(input.valid_to),
    cap_per_customer_count: input.cap_per_customer?.count ?? null,
    cap_per_customer_days: input.cap_per_customer?.days ?? null,
    global_cap: input.global_cap ?? null,
    exclude_if_bought_within_days: input.exclude_if_bought_within_days ?? null,
    fallback: input.fallback ?? false,
    holdout_percent: input.holdout_percent ?? 0,
    product: input.product ?? null,
    translations: input.translations ?? {},
  };
}

/** A PATCH over the current row: absent fields keep their value, null clears a nullable one. */
function valuesFromPatch(row: OfferRow, patch: OfferPatchInput): OfferValues {
  const has = (k: keyof OfferPatchInput) => Object.hasOwn(patch, k) && patch[k] !== undefined;
  const pick = <K extends keyof OfferPatchInput & keyof OfferValues>(k: K): OfferValues[K] =>
    (has(k) ? patch[k] : row[k]) as OfferValues[K];
  const cap = has('cap_per_customer')
    ? (patch.cap_per_customer ?? null)
    : row.cap_per_customer_count === null
      ? null
      : { count: row.cap_per_customer_count, days: row.cap_per_customer_days! };
  return {
    name: pick('name'),
    title: pick('title'),
    text: pick('text'),
    image_url: pick('image_url'),
    url: pick('url'),
    code: pick('code'),
    category: pick('category'),
    // A rule can be set to null explicitly (JSON null): `in` rather than `has` for those.
    eligibility: Object.hasOwn(patch, 'eligibility') ? (patch.eligibility ?? null) : row.eligibility,
    score: Object.hasOwn(patch, 'score') ? (patch.score ?? null) : row.score,
    priority: has('priority') ? patch.priority! : row.priority,
    valid_from: has('valid_from') ? date(patch.valid_from) : row.valid_from,
    valid_to: has('valid_to') ? date(patch.valid_to) : row.valid_to,
    cap_per_customer_count: cap?.count ?? null,
    cap_per_customer_days: cap?.days ?? null,
    global_cap: pick('global_cap'),
    exclude_if_bought_within_days: pick('exclude_if_bought_within_days'),
    fallback: has('fallback') ? patch.fallback! : row.fallback,
    holdout_percent: has('holdout_percent') ? patch.holdout_percent! : row.holdout_percent,
    product: Object.hasOwn(patch, 'product') ? (patch.product ?? null) : row.product,
    translations: has('translations') ? patch.translations! : row.translations,
  };
}

/** The API shape of an offer. */
export function offerToJson(row: OfferRow): OfferJson {
  return {
    id: row.id,
    name: row.name,
    title: row.title,
    text: row.text,
    image_url: row.image_url,
    url: row.url,
    code: row.code,
    category: row.category,
    eligibility: row.eligibility,
    score: row.score,
    priority: row.priority,
    valid_from: row.valid_from?.toISOString() ?? null,
    valid_to: row.valid_to?.toISOString() ?? null,
    cap_per_customer:
      row.cap_per_customer_count === null || row.cap_per_customer_days === null
        ? null
        : { count: row.cap_per_customer_count, days: row.cap_per_customer_days },
    global_cap: row.global_cap,
    shown_count: row.shown_count,
    exclude_if_bought_within_days: row.exclude_if_bought_within_days,
    fallback: row.fallback,
    holdout_percent: row.holdout_percent,
    product: row.product,
    translations: row.translations,
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Creates an offer after validating its rules and window (422 naming the field). */
export async function createOffer(tx: Db, input: OfferCreateInput): Promise<OfferRow> {
  const values = valuesFromCreate(input);
  validateOfferValues(values);
  await assertSensitiveUseDeclared(tx, [
    { rule: values.eligibility, field: 'eligibility' },
    { rule: values.score, field: 'score' },
  ]);
  return insertOffer(tx, values);
}

/** Applies a partial update (call it in a transaction); the merged offer is validated as a whole. */
export async function patchOffer(tx: Db, id: number, patch: OfferPatchInput): Promise<OfferRow> {
  const row = await findOffer(tx, id, true);
  if (!row) throw notFound(`Offer ${id}`);
  const values = valuesFromPatch(row, patch);
  validateOfferValues(values);
  await assertSensitiveUseDeclared(tx, [
    { rule: values.eligibility, field: 'eligibility' },
    { rule: values.score, field: 'score' },
  ]);
  return updateOffer(tx, id, values);
}

/** Soft-deletes an offer (it stops being decided; its impressions stay). */
export async function deleteOffer(tx: Db, id: number): Promise<void> {
  if (!(await softDeleteOffer(tx, id))) throw notFound(`Offer ${id}`);
}

export async function getOffer(db: Db, id: number): Promise<OfferRow> {
  const row = await findOffer(db, id);
  if (!row) throw notFound(`Offer ${id}`);
  return row;
}
