import type { Db } from '../db/sql.js';
import { type FieldError, invalid } from '../http/problem.js';
import { selectLiveRules, selectSensitiveAttributes } from './store.js';

export interface SensitiveAttribute {
  key: string;
  category: string | null;
  purpose: string;
}

const PATH_OPERATORS = new Set(['var', 'val', 'exists', 'missing', 'missing_some', 'get']);

/** Literal path strings of one path operation, as dotted paths (val's segment arrays joined). */
function pathsOf(op: string, raw: unknown): string[] {
  const args = Array.isArray(raw) ? raw : [raw];
  if (op === 'var')
    return typeof args[0] === 'string' || typeof args[0] === 'number' ? [String(args[0])] : [''];
  if (op === 'val') {
    const segments = args.flatMap((a) => (Array.isArray(a) ? a : [a])).filter((s) => typeof s === 'string');
    return [segments.join('.')];
  }
  if (op === 'get') return [String(args[1] ?? '')];
  const list = op === 'missing_some' ? args[1] : args;
  return (Array.isArray(list) ? list : [list]).flatMap((p) => (Array.isArray(p) ? p.join('.') : String(p)));
}

/**
 * Every data path a rule names, from every path operator (not only `var`: `val`, `get`,
 * `exists`, `missing` read data too). A computed path cannot be saved (assertValidRule), so the
 * literal paths are all there is; `var` with no path reads the whole context and yields ''.
 */
export function pathsRead(rule: unknown): string[] {
  const out = new Set<string>();
  const stack: unknown[] = [rule];
  while (stack.length) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    for (const [op, raw] of Object.entries(node)) {
      if (PATH_OPERATORS.has(op)) for (const p of pathsOf(op, raw)) out.add(p);
      stack.push(raw);
    }
  }
  return [...out];
}

/**
 * The sensitive attributes a rule reads: `attributes.<key>` or a path below it, and every one
 * when the rule reads `attributes` or the whole context. Inside `map`/`filter`/`val` scopes a
 * path may be relative: a bare `<key>` or a segment equal to a sensitive key counts too, so the
 * check errs on the side of asking for a purpose.
 */
export function sensitiveReads(rule: unknown, registry: readonly SensitiveAttribute[]): SensitiveAttribute[] {
  if (registry.length === 0) return [];
  const paths = pathsRead(rule);
  return registry.filter((a) =>
    paths.some((p) => {
      if (p === '' || p === 'attributes') return true;
      return p.split('.').includes(a.key);
    }),
  );
}

const isConsentsVar = (node: unknown) =>
  node !== null &&
  typeof node === 'object' &&
  !Array.isArray(node) &&
  Object.keys(node).length === 1 &&
  ((node as { var?: unknown }).var === 'consents' ||
    (Array.isArray((node as { var?: unknown }).var) && (node as { var: unknown[] }).var[0] === 'consents'));

/** `{"in": ["<purpose>", {"var": "consents"}]}` → the purpose, else undefined. */
function declaration(node: unknown): string | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const args = (node as { in?: unknown }).in;
  if (Object.keys(node).length !== 1 || !Array.isArray(args) || args.length !== 2) return undefined;
  return typeof args[0] === 'string' && isConsentsVar(args[1]) ? args[0] : undefined;
}

/**
 * The purposes a rule declares: a top-level `{"in": [purpose, {"var": "consents"}]}`, alone or
 * as an operand of the top-level `and`. The declaration is also a condition: the rule cannot
 * select a customer without that consent, whatever the context holds.
 */
export function declaredPurposes(rule: unknown): string[] {
  const own = declaration(rule);
  if (own) return [own];
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) return [];
  const operands = (rule as { and?: unknown }).and;
  if (Object.keys(rule).length !== 1 || !Array.isArray(operands)) return [];
  return operands.map(declaration).filter((p): p is string => p !== undefined);
}

/** Wraps a rule so that it declares (and requires) these purposes. */
export function withPurposes(rule: unknown, purposes: readonly string[]): unknown {
  if (purposes.length === 0) return rule;
  return { and: [...purposes.map((p) => ({ in: [p, { var: 'consents' }] })), rule] };
}

/** Field errors for a rule that reads sensitive attributes without declaring their purposes. */
export function checkSensitiveUse(
  rule: unknown,
  registry: readonly SensitiveAttribute[],
  field: string,
): FieldError[] {
  if (rule === null || rule === undefined) return [];
  const declared = new Set(declaredPurposes(rule));
  const missing = new Map<string, string[]>();
  for (const a of sensitiveReads(rule, registry)) {
    if (declared.has(a.purpose)) continue;
    missing.set(a.purpose, [...(missing.get(a.purpose) ?? []), a.key]);
  }
  return [...missing].map(([purpose, keys]) => ({
    path: field,
    in: 'body',
    message:
      `reads the sensitive attribute(s) ${keys.join(', ')} and must declare the purpose: ` +
      `add {"in": ["${purpose}", {"var": "consents"}]} to a top-level "and" (docs/privacy.md)`,
  }));
}

/**
 * The targeting guard for segments, offers and triggers: throws 422 naming each rule field that
 * reads a sensitive attribute without declaring that attribute's consent purpose.
 */
export async function assertSensitiveUseDeclared(
  db: Db,
  rules: ReadonlyArray<{ rule: unknown; field: string }>,
): Promise<void> {
  const present = rules.filter((r) => r.rule !== null && r.rule !== undefined);
  if (present.length === 0) return;
  const registry = await selectSensitiveAttributes(db);
  const errors = present.flatMap((r) => checkSensitiveUse(r.rule, registry, r.field));
  if (errors.length > 0) throw invalid(errors);
}

/**
 * The guard again when the registry changes (an attribute newly marked sensitive, or given
 * another purpose): every live segment, offer and trigger that reads `changed` must declare its
 * purpose, else it would go on targeting on it unchecked. Throws 422 naming `field` (the input
 * that made the change) with each rule that would break.
 */
export async function assertRulesStillLawful(
  db: Db,
  changed: SensitiveAttribute,
  field: string,
): Promise<void> {
  const broken = (await selectLiveRules(db)).filter(
    (r) => checkSensitiveUse(r.rule, [changed], r.field).length > 0,
  );
  if (broken.length === 0) return;
  throw invalid([
    {
      path: field,
      in: 'body',
      message:
        `${broken.map((r) => `${r.kind} “${r.name}” (${r.id}, ${r.field})`).join(', ')} reads ` +
        `${changed.key} without declaring the purpose ${changed.purpose}: declare it there first`,
    },
  ]);
}
