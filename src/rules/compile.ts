import { LogicEngine } from 'json-logic-engine';
import { AppError, type FieldError } from '../http/problem.js';
import { createStepBudget, type StepBudget, worstCaseSteps } from './budget.js';
import { registerCustomOperators } from './operators.js';

/** A rule compiled to a function of the data it reads. May throw a RuleError at evaluation (e.g. `throw`). */
export type CompiledRule = (data: unknown) => unknown;

/** Bounds: rules are data from users, so size, depth and work per evaluation are limited. */
export const RULE_LIMITS = {
  /** Nesting of operators and arrays. */
  maxDepth: 64,
  /** Nodes (operators, arrays, literals) in one rule. */
  maxNodes: 5000,
  /** Elements an iterator (map, filter, reduce, all, some, none) walks per call. */
  maxIterations: 10_000,
  /**
   * Steps of one evaluation, across nested iterators: each element an iterator walks costs
   * the nodes of its callback (src/rules/budget.ts). A rule whose worst case exceeds it is
   * refused at save; an evaluation that reaches it stops with `Limit Exceeded`.
   */
  maxSteps: 1_000_000,
  /** Characters of all strings (literals and keys) in one rule. */
  maxTextLength: 64 * 1024,
  /** Strings produced by `cat` and friends. */
  maxStringLength: 1 << 16,
} as const;

/** Thrown by a rule at evaluation: `type` is the kind (the JSON Logic suites' vocabulary). */
export class RuleError extends Error {
  override name = 'RuleError';
  constructor(
    readonly type: string,
    message = type,
  ) {
    super(message);
  }
}

/**
 * The one engine configuration, shared by production and the conformance test. Deviations
 * from json-logic-engine's defaults move it closer to the community suites: `{}` is truthy,
 * empty `and`/`or` are false, iterators reject what is not an array (and bound its length).
 */
export function createEngine(): { engine: LogicEngine; budget: StepBudget } {
  const budget = createStepBudget(RULE_LIMITS.maxSteps);
  const engine = new LogicEngine(undefined, {
    maxArrayLength: RULE_LIMITS.maxIterations,
    maxStringLength: RULE_LIMITS.maxStringLength,
    maxDepth: RULE_LIMITS.maxDepth,
  });
  // JSON Logic truthiness: only empty arrays differ from JavaScript (the engine also treats
  // `{}` as false, which the suites and json-logic-js do not).
  engine.truthy = (value: unknown) => {
    if (!value) return value;
    if (Array.isArray(value)) return value.length > 0;
    return value;
  };
  registerCustomOperators(engine, budget);
  return { engine, budget };
}

const { engine, budget } = createEngine();

const CACHE_SIZE = 1000;
const cache = new Map<string, CompiledRule>();
/** Rule objects already seen: callers usually pass the same parsed rule again and again. */
const byIdentity = new WeakMap<object, CompiledRule>();

/**
 * Compiles a rule once (cached by its JSON, least recently used evicted first). Throws
 * `invalid` (422) for a rule over the bounds, RuleError when the engine rejects it.
 */
export function compileRule(rule: unknown): CompiledRule {
  const isObject = rule !== null && typeof rule === 'object';
  if (isObject) {
    const known = byIdentity.get(rule);
    if (known) return known;
  }
  // Bounds first: JSON.stringify of a 10,000-deep rule would overflow the stack.
  checkShape(rule, 'rule', true);
  const key = JSON.stringify(rule) ?? 'null';
  let compiled = cache.get(key);
  if (compiled) cache.delete(key);
  else {
    let built: (data: unknown) => unknown;
    try {
      // Constant parts are folded at build time: they spend from a budget of their own.
      budget.reset();
      built = engine.build(rule) as (data: unknown) => unknown;
    } catch (error) {
      // Cloudflare Workers forbid eval, which build() compiles with: interpret there instead.
      // Constant parts are folded at build time, so `{"/": [1, 0]}` already throws here.
      if (!(error instanceof EvalError)) throw toRuleError(error);
      built = (data: unknown) => engine.run(rule, data) as unknown;
    }
    const run = built;
    // Evaluations are synchronous, so one counter per engine, reset per evaluation, is exact.
    compiled = (data: unknown) => {
      budget.reset();
      try {
        return run(data);
      } catch (error) {
        // The engine throws plain objects ({type}); callers get a RuleError naming the kind.
        throw toRuleError(error);
      }
    };
  }
  cache.set(key, compiled);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  if (isObject) byIdentity.set(rule, compiled);
  return compiled;
}

/** Evaluates a rule; errors thrown by the rule become RuleError with the suites' kind. */
export function evaluateRule(rule: unknown, data: unknown): unknown {
  const fn = compileRule(rule);
  try {
    return fn(data);
  } catch (error) {
    throw toRuleError(error);
  }
}

export function toRuleError(error: unknown): RuleError {
  if (error instanceof RuleError) return error;
  if (typeof error === 'number' && Number.isNaN(error)) return new RuleError('NaN');
  if (error && typeof error === 'object') {
    const type = (error as { type?: unknown }).type;
    if (typeof type === 'string') return new RuleError(type);
    // `try` rethrows what it caught as {message}.
    const message = (error as { message?: unknown }).message;
    if (!(error instanceof Error) && typeof message === 'string') return new RuleError(message);
    if (error instanceof RangeError) return new RuleError('Limit Exceeded', error.message);
    if (error instanceof Error) return new RuleError('Invalid Arguments', error.message);
  }
  if (typeof error === 'string') return new RuleError(error);
  return new RuleError('Error', String(error));
}

/**
 * min..max arguments per operator; max undefined = unbounded. As in the JSON Logic suites:
 * arithmetic and comparisons are n-ary (`{"/": [8, 2, 2]}` is 2, `{"<": [1, 2, 3]}` chains),
 * unary `-` and `/` negate and invert, empty `and`/`or`/`+`/`*` are their identities. Below
 * the minimum an operation means nothing; the suites call that `Invalid Arguments`.
 */
const ARITY: Record<string, [number, number | undefined]> = {
  var: [0, 2],
  val: [0, undefined],
  exists: [1, undefined],
  missing: [0, undefined],
  missing_some: [2, 2],
  get: [2, 3],
  if: [0, undefined],
  '?:': [3, 3],
  '==': [2, undefined],
  '===': [2, undefined],
  '!=': [2, undefined],
  '!==': [2, undefined],
  '<': [2, undefined],
  '<=': [2, undefined],
  '>': [2, undefined],
  '>=': [2, undefined],
  '!': [0, 1],
  '!!': [0, 1],
  not: [0, 1],
  and: [0, undefined],
  or: [0, undefined],
  '??': [0, undefined],
  '+': [0, undefined],
  '*': [0, undefined],
  '-': [1, undefined],
  '/': [1, undefined],
  '%': [2, undefined],
  min: [1, undefined],
  max: [1, undefined],
  cat: [0, undefined],
  substr: [2, 3],
  in: [2, 2],
  merge: [0, undefined],
  length: [1, 1],
  keys: [1, 1],
  map: [2, 2],
  filter: [2, 2],
  all: [2, 2],
  some: [2, 2],
  none: [2, 2],
  reduce: [2, 3],
  try: [1, undefined],
  throw: [1, 1],
  preserve: [0, undefined],
  // Offerflow's own operators (docs/rules.md).
  days_since: [1, 1],
  purchased_in: [2, 2],
  spent_in: [2, 2],
  has_any: [2, 2],
  has_all: [2, 2],
  did_event: [2, 3],
  event_count: [2, 2],
};

/** Operators whose arguments name a path into the data: they must be literal and safe. */
const PATH_OPERATORS = new Set(['var', 'val', 'exists', 'missing', 'missing_some', 'get']);
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

export const OPERATORS: readonly string[] = Object.keys(ARITY);

/**
 * Why a rule is refused, in the suites' vocabulary: `Invalid Arguments` (an operation that
 * means nothing, or a path that is not literal and safe), `Unknown Operator`, `Limit Exceeded`
 * (over the bounds, the step budget included).
 */
export type RuleRefusal = 'Invalid Arguments' | 'Unknown Operator' | 'Limit Exceeded';

interface RuleFieldError extends FieldError {
  kind: RuleRefusal;
}

/**
 * Checks a rule before it is saved or evaluated: known operators, arities, literal and safe
 * paths, bounded depth, size and worst-case work. Throws a 422 naming JSON paths under `field`,
 * with `kind` (the first refusal's) in the problem and its detail.
 */
export function assertValidRule(rule: unknown, field: string): void {
  const errors = checkShape(rule, field, false);
  if (errors.length === 0) {
    const steps = worstCaseSteps(rule, RULE_LIMITS.maxIterations);
    if (steps > RULE_LIMITS.maxSteps) {
      errors.push({
        path: field,
        kind: 'Limit Exceeded',
        message: `the rule can take up to ${steps.toLocaleString('en')} steps, over the limit of ${RULE_LIMITS.maxSteps.toLocaleString('en')}: each iterator walks up to ${RULE_LIMITS.maxIterations.toLocaleString('en')} elements and nested iterators multiply`,
      });
    }
  }
  if (errors.length) throw refusal(errors.slice(0, 20));
}

function refusal(errors: RuleFieldError[]): AppError {
  const first = errors[0] as RuleFieldError;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new AppError(
    422,
    'validation',
    `${first.kind}: ${first.path}: ${first.message}${more}`,
    errors.map(({ kind: _kind, ...e }) => e),
    { kind: first.kind },
  );
}

/** An operation node `{op: args}` whose arguments are computed by another operation. */
const isOperation = (value: unknown) =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1;

/**
 * Walks the rule without recursion (10,000-deep input must not blow the stack). With `bounds`
 * only (compile time), checks depth and size; otherwise checks operators, arity and paths too.
 */
function checkShape(rule: unknown, field: string, boundsOnly: boolean): RuleFieldError[] {
  const errors: RuleFieldError[] = [];
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: rule, path: field, depth: 0 }];
  let nodes = 0;
  let text = 0;
  while (stack.length) {
    const { node, path, depth } = stack.pop() as { node: unknown; path: string; depth: number };
    if (++nodes > RULE_LIMITS.maxNodes) {
      return fail(boundsOnly, field, `the rule has more than ${RULE_LIMITS.maxNodes} nodes`);
    }
    if (depth > RULE_LIMITS.maxDepth) {
      return fail(boundsOnly, path, `the rule is nested more than ${RULE_LIMITS.maxDepth} levels deep`);
    }
    if (typeof node === 'string') text += node.length;
    if (text > RULE_LIMITS.maxTextLength) {
      return fail(
        boundsOnly,
        path,
        `the rule's strings are longer than ${RULE_LIMITS.maxTextLength} characters`,
      );
    }
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--)
        stack.push({ node: node[i], path: `${path}.${i}`, depth: depth + 1 });
      continue;
    }
    if (boundsOnly) {
      for (const [key, value] of Object.entries(node)) {
        text += key.length;
        stack.push({ node: value, path: `${path}.${key}`, depth: depth + 1 });
      }
      continue;
    }
    const keys = Object.keys(node);
    // `{}` is a value (truthy, not a number), as in the suites.
    if (keys.length === 0) continue;
    if (keys.length !== 1) {
      errors.push({
        path,
        kind: 'Invalid Arguments',
        message: `an operation has exactly one operator key, found ${keys.length}`,
      });
      continue;
    }
    const op = keys[0] as string;
    text += op.length;
    const opPath = `${path}.${op}`;
    const arity = Object.hasOwn(ARITY, op) ? ARITY[op] : undefined;
    if (!arity) {
      errors.push({ path: opPath, kind: 'Unknown Operator', message: `unknown operator "${op}"` });
      continue;
    }
    const raw = (node as Record<string, unknown>)[op];
    if (op === 'preserve') continue;
    const args = Array.isArray(raw) ? raw : [raw];
    const [min, max] = arity;
    // Arguments computed by an operation (`{"/": {"preserve": [8, 2]}}`) are counted at run time.
    const counted = !isOperation(raw);
    if (counted && (args.length < min || (max !== undefined && args.length > max))) {
      const want = max === undefined ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
      errors.push({
        path: opPath,
        kind: 'Invalid Arguments',
        message: `"${op}" takes ${want} argument(s), got ${args.length}`,
      });
      continue;
    }
    if (PATH_OPERATORS.has(op)) {
      const pathError = checkPathArgs(op, raw, args);
      if (pathError) {
        errors.push({ path: opPath, kind: 'Invalid Arguments', message: pathError });
        continue;
      }
    }
    if (Array.isArray(raw)) {
      for (let i = raw.length - 1; i >= 0; i--) {
        stack.push({ node: raw[i], path: `${opPath}.${i}`, depth: depth + 1 });
      }
    } else stack.push({ node: raw, path: opPath, depth: depth + 1 });
  }
  return errors;
}

function fail(boundsOnly: boolean, path: string, message: string): RuleFieldError[] {
  // compileRule has no field to name; it throws the same 422 with the root path.
  if (boundsOnly) throw refusal([{ path, message, kind: 'Limit Exceeded' }]);
  return [{ path, message, kind: 'Limit Exceeded' }];
}

/** Paths must be literal (no computed keys) and never reach the prototype chain. */
function checkPathArgs(op: string, raw: unknown, args: unknown[]): string | undefined {
  const segments: unknown[] = [];
  if (op === 'var') {
    const p = args[0];
    if (p === null || p === undefined) return undefined;
    if (typeof p === 'number') return undefined;
    if (typeof p !== 'string') return 'the path of "var" must be a literal string or number';
    segments.push(...p.split('.'));
  } else if (op === 'val') {
    const list = Array.isArray(raw) ? raw : [raw];
    for (const p of list) {
      if (Array.isArray(p)) {
        for (const q of p) {
          if (q !== null && typeof q === 'object') return 'the path of "val" must be literal';
          segments.push(q);
        }
      } else if (p !== null && typeof p === 'object') return 'the path of "val" must be literal';
      else segments.push(p);
    }
  } else if (op === 'get') {
    const key = args[1];
    if (key !== null && typeof key === 'object') return 'the key of "get" must be literal';
    segments.push(...String(key).split('.'));
  } else {
    const list = op === 'missing_some' ? (Array.isArray(args[1]) ? args[1] : [args[1]]) : args;
    for (const p of list) {
      if (p !== null && typeof p === 'object' && !Array.isArray(p)) {
        return `the paths of "${op}" must be literal`;
      }
      for (const q of Array.isArray(p) ? p : [p]) segments.push(...String(q).split('.'));
    }
  }
  for (const s of segments) {
    if (typeof s === 'string' && FORBIDDEN_SEGMENTS.has(s)) return `the path segment "${s}" is not allowed`;
  }
  return undefined;
}

/** The `var` paths a rule reads (literal ones), in first-seen order. */
export function varsUsed(rule: unknown): string[] {
  const seen = new Set<string>();
  const stack: unknown[] = [rule];
  let visited = 0;
  while (stack.length && visited++ < RULE_LIMITS.maxNodes * 2) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
      continue;
    }
    for (const [op, raw] of Object.entries(node)) {
      if (op === 'var') {
        const p = Array.isArray(raw) ? raw[0] : raw;
        if (typeof p === 'string' || typeof p === 'number') seen.add(String(p));
        else stack.push(p);
        if (Array.isArray(raw)) stack.push(raw.slice(1));
      } else stack.push(raw);
    }
  }
  return [...seen];
}
