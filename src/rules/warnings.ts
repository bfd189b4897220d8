import type { Db } from '../db/sql.js';
import { type FieldCatalogue, fieldCatalogue, type RuleField, type RuleScope } from './fields.js';

/*
 * Warnings for rules that run but cannot be meant: an unknown field (`totl_spent`), a value no
 * customer has (`"Garden"` when the category is `garden`), a number field compared with a string,
 * a trigger filter reading a field its event does not carry. Returned on save next to the saved
 * rule, never refusing it: a new category may be intended.
 */

export interface RuleWarning {
  path: string;
  message: string;
}

/** Iterators whose second argument runs per element, with paths relative to the element. */
const ITERATORS = new Set(['map', 'filter', 'reduce', 'all', 'some', 'none']);
const EQUALITY = new Set(['==', '===', '!=', '!==']);
const ORDERING = new Set(['<', '<=', '>', '>=']);
const CATEGORY_OPERATORS = new Set(['purchased_in', 'spent_in']);
/** Where the categories are listed: any field the catalogue fills with purchase categories. */
const CATEGORY_FIELD = /(^|\.)(categories_bought|spend_by_category)$/;

interface Index {
  exact: Map<string, RuleField>;
  /** Fields whose children are free (objects, arrays) or keys from their values (keyed). */
  prefixes: RuleField[];
  categories: RuleField | undefined;
  catalogue: FieldCatalogue;
}

function indexOf(catalogue: FieldCatalogue): Index {
  const exact = new Map<string, RuleField>();
  const prefixes: RuleField[] = [];
  for (const f of catalogue.fields) {
    exact.set(f.path, f);
    if (f.keyed || f.type === 'object' || f.type === 'array') prefixes.push(f);
  }
  const categories = catalogue.fields.find((f) => CATEGORY_FIELD.test(f.path) && f.values);
  return { exact, prefixes, categories, catalogue };
}

type Resolved = { field: RuleField; key?: string } | undefined;

function resolve(index: Index, path: string): Resolved {
  const field = index.exact.get(path);
  if (field) return { field };
  for (const p of index.prefixes) {
    if (path.startsWith(`${p.path}.`)) {
      const key = path.slice(p.path.length + 1);
      return p.keyed ? { field: p, key } : { field: p };
    }
  }
  return undefined;
}

/** Levenshtein distance, bounded: stops counting past `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length] ?? max + 1;
}

/** The closest known path: same last segment first (`event.category` → `event.purchase.category`), then spelling. */
function suggestPath(index: Index, path: string): string | undefined {
  const last = path.slice(path.lastIndexOf('.') + 1);
  const head = path.split('.')[0];
  const sameLeaf = index.catalogue.fields.find(
    (f) => f.path !== path && f.path.split('.')[0] === head && f.path.endsWith(`.${last}`),
  );
  if (sameLeaf && path.includes('.')) return sameLeaf.path;
  let best: { path: string; d: number } | undefined;
  for (const f of index.catalogue.fields) {
    const d = distance(path.toLowerCase(), f.path.toLowerCase(), 3);
    if (d <= 3 && (!best || d < best.d)) best = { path: f.path, d };
  }
  return best?.path;
}

function suggestValue(values: { value: string }[], value: string): string | undefined {
  const lower = value.toLowerCase();
  const same = values.find((v) => v.value.toLowerCase() === lower);
  if (same) return same.value;
  let best: { value: string; d: number } | undefined;
  for (const v of values) {
    const d = distance(lower, v.value.toLowerCase(), 2);
    if (d <= 2 && (!best || d < best.d)) best = { value: v.value, d };
  }
  return best?.value;
}

const isVar = (node: unknown): node is { var: unknown } =>
  node !== null &&
  typeof node === 'object' &&
  !Array.isArray(node) &&
  Object.keys(node).length === 1 &&
  'var' in node;

function varPath(node: { var: unknown }): string | undefined {
  const raw = Array.isArray(node.var) ? node.var[0] : node.var;
  return typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : undefined;
}

/** The warnings of one rule against a catalogue; `base` is the rule's JSON path in the request body. */
export function ruleWarnings(catalogue: FieldCatalogue, rule: unknown, base = 'rule'): RuleWarning[] {
  const index = indexOf(catalogue);
  const out: RuleWarning[] = [];
  const seen = new Set<string>();
  const warn = (path: string, message: string) => {
    const key = `${path}|${message}`;
    if (seen.has(key) || out.length >= 100) return;
    seen.add(key);
    out.push({ path, message });
  };

  const checkValue = (field: RuleField, value: string, path: string, what = 'value') => {
    if (!field.values_complete || !field.values) return;
    if (field.values.some((v) => v.value === value)) return;
    const hint = suggestValue(field.values, value);
    warn(
      path,
      `no customer has ${what} "${value}" in ${field.path}${hint ? `; did you mean "${hint}"?` : ''}`,
    );
  };

  const checkCategory = (value: unknown, path: string) => {
    if (typeof value !== 'string' || !index.categories?.values_complete || !index.categories.values) return;
    if (index.categories.values.some((v) => v.value === value)) return;
    const hint = suggestValue(index.categories.values, value);
    warn(path, `no customer bought in the category "${value}"${hint ? `; did you mean "${hint}"?` : ''}`);
  };

  /** A var node: known field? Returns what it resolves to. */
  const checkVar = (node: { var: unknown }, path: string): Resolved => {
    const p = varPath(node);
    if (p === undefined || p === '') return undefined;
    const resolved = resolve(index, p);
    if (!resolved) {
      const hint = suggestPath(index, p);
      const head = p.split('.')[0];
      const message =
        catalogue.scope === 'trigger' && head === 'event' && catalogue.event
          ? `the ${catalogue.event} event does not carry ${p}`
          : `unknown field ${p}`;
      warn(`${path}.var`, `${message}${hint ? `; did you mean ${hint}?` : ''}`);
      return undefined;
    }
    if (resolved.key !== undefined && CATEGORY_FIELD.test(resolved.field.path))
      checkCategory(resolved.key, `${path}.var`);
    else if (resolved.key !== undefined) checkValue(resolved.field, resolved.key, `${path}.var`, 'key');
    return resolved;
  };

  const typeOf = (resolved: Resolved): string | undefined => resolved?.field.type;

  const walk = (node: unknown, path: string, depth: number, relative: boolean): void => {
    if (depth > 64 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        walk(child, `${path}.${i}`, depth + 1, relative);
      });
      return;
    }
    for (const [op, raw] of Object.entries(node as Record<string, unknown>)) {
      const at = `${path}.${op}`;
      const args = Array.isArray(raw) ? raw : [raw];
      if (op === 'var') {
        if (!relative) checkVar(node as { var: unknown }, path);
        continue;
      }
      if (ITERATORS.has(op)) {
        walk(args[0], `${at}.0`, depth + 1, relative);
        // Inside the callback, paths are relative to the element: not catalogue fields.
        args.slice(1).forEach((a, i) => {
          walk(a, `${at}.${i + 1}`, depth + 1, true);
        });
        continue;
      }
      if (!relative) {
        if (CATEGORY_OPERATORS.has(op)) checkCategory(args[0], `${at}.0`);
        if ((EQUALITY.has(op) || ORDERING.has(op)) && args.length === 2) {
          const [a, b] = args;
          const side = isVar(a) ? 0 : isVar(b) ? 1 : -1;
          if (side >= 0) {
            const v = (side === 0 ? a : b) as { var: unknown };
            const literal = side === 0 ? b : a;
            const resolved = checkVar(v, `${at}.${side}`);
            const type = typeOf(resolved);
            const lp = `${at}.${1 - side}`;
            if (type === 'number' && typeof literal === 'string') {
              const n = Number(literal);
              warn(
                lp,
                `${varPath(v)} is a number compared with the string "${literal}"${Number.isFinite(n) && literal.trim() !== '' ? `: write ${n} without quotes` : ''}`,
              );
            } else if (type === 'string' && typeof literal === 'number') {
              warn(lp, `${varPath(v)} is text compared with the number ${literal}: write "${literal}"`);
            } else if (resolved && typeof literal === 'string' && EQUALITY.has(op) && type === 'string') {
              if (CATEGORY_FIELD.test(resolved.field.path) || resolved.field.path.endsWith('category'))
                checkCategory(literal, lp);
              else checkValue(resolved.field, literal, lp);
            }
            // The literal side may itself be an operation (`{">": [{var}, {var}]}`).
            walk(literal, lp, depth + 1, relative);
            continue;
          }
        }
        if (op === 'in' && args.length === 2) {
          const [item, list] = args;
          if (isVar(item) && Array.isArray(list)) {
            const resolved = checkVar(item, `${at}.0`);
            if (resolved)
              list.forEach((v, i) => {
                if (typeof v === 'string') checkValue(resolved.field, v, `${at}.1.${i}`);
              });
            continue;
          }
          if (typeof item === 'string' && isVar(list)) {
            const resolved = checkVar(list, `${at}.1`);
            if (resolved?.field.path.endsWith('consents')) continue;
            if (resolved) {
              if (CATEGORY_FIELD.test(resolved.field.path)) checkCategory(item, `${at}.0`);
              else checkValue(resolved.field, item, `${at}.0`);
            }
            continue;
          }
        }
        if ((op === 'has_any' || op === 'has_all') && args.length === 2 && isVar(args[0])) {
          const resolved = checkVar(args[0], `${at}.0`);
          const wanted = Array.isArray(args[1]) ? args[1] : [args[1]];
          if (resolved)
            wanted.forEach((v, i) => {
              if (typeof v !== 'string') return;
              if (CATEGORY_FIELD.test(resolved.field.path)) checkCategory(v, `${at}.1.${i}`);
              else checkValue(resolved.field, v, `${at}.1.${i}`);
            });
          continue;
        }
      }
      walk(raw, at, depth + 1, relative);
    }
  };
  walk(rule, base, 0, false);
  return out;
}

/** The warnings of several rules of one request (one catalogue built for all of them). */
export async function warnRules(
  sql: Db,
  rules: Array<{ rule: unknown; path: string }>,
  options: { scope: RuleScope; event?: string | undefined; now: Date },
): Promise<RuleWarning[]> {
  const present = rules.filter((r) => r.rule !== undefined && r.rule !== null);
  if (present.length === 0) return [];
  // Values are looked up only for the fields the rules read (and the categories when they name one).
  const text = JSON.stringify(present.map((r) => r.rule));
  const names = new Set<string>();
  for (const m of text.matchAll(/"var":\s*\[?\s*"([^"]{1,300})"/g)) names.add(m[1] as string);
  const categories = /"(purchased_in|spent_in)"|categor/.test(text);
  const valuesFor = (path: string) =>
    names.has(path) ||
    [...names].some((n) => n.startsWith(`${path}.`)) ||
    (categories && CATEGORY_FIELD.test(path));
  const catalogue = await fieldCatalogue(sql, { ...options, valuesFor });
  return present.flatMap((r) => ruleWarnings(catalogue, r.rule, r.path));
}

/**
 * A saved object with its warnings: `warnings` only when there is something to warn about, so a
 * clean save answers exactly what a read of it does.
 */
export const withWarnings = <T extends object>(
  body: T,
  warnings: RuleWarning[],
): T & { warnings?: RuleWarning[] } => (warnings.length > 0 ? { ...body, warnings } : body);
