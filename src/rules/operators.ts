import type { LogicEngine } from 'json-logic-engine';
import { countNodes, ITERATORS, type StepBudget } from './budget.js';

const DAY_MS = 86_400_000;
/** The suites' error object for bad operands: `{type: 'Invalid Arguments'}`. */
const INVALID_ARGUMENTS = { type: 'Invalid Arguments' };

type Method = {
  method: (args: unknown, context: unknown, above: unknown, engine: LogicEngine) => unknown;
  compile?: (data: unknown, buildState: unknown) => unknown;
  [key: string | symbol]: unknown;
};

/** json-logic-engine marks compiled code with this registered symbol. */
const COMPILED = Symbol.for('json_logic_compiled');

const isFastLiteral = (v: unknown) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
const isOperation = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Operators whose value is always a boolean (or that throw). */
const BOOLEAN_OPERATORS = new Set([
  '==',
  '===',
  '!=',
  '!==',
  '<',
  '<=',
  '>',
  '>=',
  '!',
  '!!',
  'in',
  'purchased_in',
  'did_event',
  'has_any',
  'has_all',
  'some',
  'all',
  'none',
]);

/** True when a node surely evaluates to a boolean, so `&&`/`||` may replace truthiness checks. */
function isBooleanNode(node: unknown, depth: number): boolean {
  if (typeof node === 'boolean') return true;
  if (depth > 64 || node === null || typeof node !== 'object' || Array.isArray(node)) return false;
  const keys = Object.keys(node);
  if (keys.length !== 1) return false;
  const op = keys[0] as string;
  if (BOOLEAN_OPERATORS.has(op)) return true;
  if (op !== 'and' && op !== 'or') return false;
  const args = (node as Record<string, unknown>)[op];
  return Array.isArray(args) && args.length > 0 && args.every((a) => isBooleanNode(a, depth + 1));
}

/** The evaluation time: `now` of the root context (an ISO string), else the wall clock. */
export function nowOf(context: unknown, above: unknown): number {
  let root = context;
  let up = above;
  while (Array.isArray(up) && up.length >= 2) {
    root = up[1];
    up = up[2];
  }
  const now = root && typeof root === 'object' ? (root as { now?: unknown }).now : undefined;
  if (typeof now === 'string' && now === lastNow.text) return lastNow.ms;
  const ms = toMillis(now);
  if (ms === undefined) return Date.now();
  if (typeof now === 'string') lastNow = { text: now, ms };
  return ms;
}

// A batch evaluates one `now` for every customer: parse it once.
let lastNow = { text: '', ms: 0 };

/** The root context (the customer), from inside iterators too. */
function rootOf(context: unknown, above: unknown): Record<string, unknown> | undefined {
  let root = context;
  let up = above;
  while (Array.isArray(up) && up.length >= 2) {
    root = up[1];
    up = up[2];
  }
  return root && typeof root === 'object' ? (root as Record<string, unknown>) : undefined;
}

export function toMillis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string' && value) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}

/** Whole days from a date to now (negative in the future); null when it is not a date. */
export function daysSince(value: unknown, nowMs: number): number | null {
  const ms = toMillis(value);
  return ms === undefined ? null : Math.floor((nowMs - ms) / DAY_MS);
}

/** A non-negative day count or null (no window); anything else is a bad operand. */
function windowDays(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw INVALID_ARGUMENTS;
  return value;
}

/**
 * Offerflow's operators (docs/rules.md) and the engine adjustments that bring it closer to
 * the JSON Logic suites. Custom operators are not deterministic: they read `now`.
 */
export function registerCustomOperators(engine: LogicEngine, budget: StepBudget): void {
  const methods = engine.methods as Record<string, Method | ((...a: unknown[]) => unknown)>;

  // Iterators walk a bounded number of elements, and every element walked spends the nodes of
  // the callback from the evaluation's budget (src/rules/budget.ts), whatever the nesting. As
  // in the suites: a literal `null` collection or mapper is an error for map/filter/reduce,
  // while a missing collection is empty; all/some/none need an array.
  const maxIterations = engine.options.maxArrayLength ?? 10_000;
  const maxStringLength = engine.options.maxStringLength ?? 1 << 16;
  const bounded = (value: unknown, weight: unknown) => {
    if (Array.isArray(value)) {
      if (value.length > maxIterations) throw { type: 'Limit Exceeded' };
      budget.spend(value.length * (typeof weight === 'number' ? weight : 1));
    }
    return value;
  };
  // Not deterministic: a literal collection folded at build time would walk uncounted.
  engine.addMethod(
    '$array',
    (args: unknown) => {
      const [value, weight] = Array.isArray(args) ? args : [args];
      if (!Array.isArray(value)) throw INVALID_ARGUMENTS;
      return bounded(value, weight);
    },
    { deterministic: false },
  );
  engine.addMethod(
    '$list',
    (args: unknown) => {
      const [value, weight] = Array.isArray(args) ? args : [args];
      return bounded(value, weight);
    },
    { deterministic: false },
  );
  const weights = new WeakMap<object, number>();
  const weightOf = (callback: unknown): number => {
    if (callback === null || typeof callback !== 'object') return 1;
    let weight = weights.get(callback);
    if (weight === undefined) {
      weight = countNodes(callback);
      weights.set(callback, weight);
    }
    return weight;
  };
  for (const name of ITERATORS) {
    const original = methods[name] as Method;
    const strict = name === 'all' || name === 'some' || name === 'none';
    const guard = (data: unknown): unknown[] => {
      if (!Array.isArray(data) || data.length < 2) throw INVALID_ARGUMENTS;
      if (!strict && (data[0] === null || data[1] === null || data[1] === undefined)) throw INVALID_ARGUMENTS;
      return [{ [strict ? '$array' : '$list']: [data[0], weightOf(data[1])] }, ...data.slice(1)];
    };
    methods[name] = {
      ...original,
      method: (args, context, above, e) => original.method(guard(args), context, above, e),
      ...(original.compile ? { compile: (data, state) => original.compile?.(guard(data), state) } : {}),
    };
  }
  // The engine's alias of `all` would walk without the guard.
  delete methods.every;

  // Operators whose work grows with their input (a list searched, summed or copied) spend its
  // size: inside an iterator, `{"in": [x, <outer list>]}` would otherwise walk it uncounted.
  const sizeOf = (value: unknown): number => {
    if (typeof value === 'string') return value.length;
    if (!Array.isArray(value)) return 1;
    let size = value.length;
    for (const item of value) if (typeof item === 'string' || Array.isArray(item)) size += item.length;
    return size;
  };
  engine.addMethod(
    '$size',
    (args: unknown) => {
      const value = Array.isArray(args) ? args[0] : args;
      budget.spend(sizeOf(value));
      return value;
    },
    { deterministic: false },
  );
  const sized = (node: unknown) => ({ $size: [node] });
  for (const name of ['in', 'merge', 'cat', 'keys', 'min', 'max', '+', '-', '*', '/', '%']) {
    const original = methods[name] as Method | ((...a: unknown[]) => unknown);
    const run = typeof original === 'function' ? original : original.method;
    const compile =
      typeof original === 'function' ? (original as unknown as Method).compile : original.compile;
    methods[name] = {
      ...(original as Method),
      lazy: false,
      method: (args, context, above, e) => {
        budget.spend(sizeOf(args));
        const result = run(args, context, above, e);
        if (name === 'cat' && typeof result === 'string' && result.length > maxStringLength) {
          throw { type: 'Limit Exceeded' };
        }
        return result;
      },
      // cat runs as a method, so that the length of what it builds is checked.
      ...(name === 'cat' ? { compile: undefined } : {}),
      ...(compile && name !== 'cat'
        ? {
            // Compiled code inlines the walk over a computed list (`prev.reduce`, `includes`):
            // route that list through $size first.
            compile: (data: unknown, state: unknown) => {
              if (name === 'in')
                return compile(Array.isArray(data) ? [data[0], sized(data[1])] : data, state);
              return compile(isOperation(data) ? sized(data) : data, state);
            },
          }
        : {}),
    };
  }

  // Comparisons of an operand with a number (or string) literal: when the operand is a
  // number (string) at run time, compare directly; otherwise fall back to the engine's
  // coercion rules. Same results, without a coercion check per comparison on the hot path.
  for (const name of ['<', '<=', '>', '>=', '==', '!=']) {
    const original = methods[name] as Method;
    const opCode = { [COMPILED]: name };
    if (!original.compile) continue;
    methods[name] = {
      ...original,
      compile: (data, state) => {
        const slow = original.compile?.(data, state);
        if (!slow || !Array.isArray(data) || data.length !== 2) return slow;
        const st = state as { compile: (s: TemplateStringsArray, ...v: unknown[]) => unknown };
        const [a, b] = data;
        const literalFirst = isFastLiteral(a) && isOperation(b);
        if (!literalFirst && !(isFastLiteral(b) && isOperation(a))) return slow;
        const literal = literalFirst ? a : b;
        const operand = literalFirst ? b : a;
        const test =
          typeof literal === 'number'
            ? st.compile`(typeof (prev = ${operand}) === 'number' && prev === prev)`
            : st.compile`(typeof (prev = ${operand}) === 'string')`;
        return literalFirst
          ? st.compile`(${test} ? (${literal} ${opCode} prev) : ${slow})`
          : st.compile`(${test} ? (prev ${opCode} ${literal}) : ${slow})`;
      },
    };
  }

  // `and` / `or` of nothing are false (the engine says null). When every operand is known to
  // be a boolean, `&&` / `||` give the same value without a truthiness call per operand.
  for (const name of ['and', 'or']) {
    const original = methods[name] as Method;
    const joiner = name === 'and' ? '&&' : '||';
    methods[name] = {
      ...original,
      method: (args, context, above, e) =>
        Array.isArray(args) && args.length === 0 ? false : original.method(args, context, above, e),
      compile: (data, state) => {
        if (Array.isArray(data) && data.length === 0) return false;
        if (Array.isArray(data) && data.every((node) => isBooleanNode(node, 0))) {
          const st = state as { compile: (s: TemplateStringsArray, ...v: unknown[]) => unknown };
          let res = st.compile`(${data[0]})`;
          for (let i = 1; i < data.length; i++) {
            res = joiner === '&&' ? st.compile`${res} && (${data[i]})` : st.compile`${res} || (${data[i]})`;
          }
          return st.compile`(${res})`;
        }
        return original.compile ? original.compile(data, state) : false;
      },
    };
  }

  // substr works on the string form of its input, as json-logic-js does.
  engine.addMethod(
    'substr',
    (args: unknown) => {
      const [value, from, length] = args as [unknown, number, number | undefined];
      const text = value === null || value === undefined ? '' : String(value);
      const start = Number(from) || 0;
      const begin = start < 0 ? Math.max(text.length + start, 0) : start;
      if (length === undefined || length === null) return text.slice(begin);
      const n = Number(length) || 0;
      return n < 0 ? text.slice(begin, text.length + n) : text.slice(begin, begin + n);
    },
    { deterministic: true },
  );

  engine.addMethod(
    'days_since',
    (args: unknown, context: unknown, above: unknown) => {
      const value = Array.isArray(args) ? args[0] : args;
      return daysSince(value, nowOf(context, above));
    },
    { deterministic: false },
  );

  engine.addMethod(
    'purchased_in',
    (args: unknown, context: unknown, above: unknown) => {
      const [category, days] = args as [unknown, unknown];
      const window = windowDays(days);
      const root = rootOf(context, above);
      const last = (root?.last_purchase_by_category as Record<string, unknown> | undefined) ?? undefined;
      if (typeof category !== 'string' || !last || !Object.hasOwn(last, category)) return false;
      const at = toMillis(last[category]);
      if (at === undefined) return false;
      return window === null || at >= nowOf(context, above) - window * DAY_MS;
    },
    { deterministic: false },
  );

  engine.addMethod(
    'spent_in',
    (args: unknown, context: unknown, above: unknown) => {
      const [category, days] = args as [unknown, unknown];
      const window = windowDays(days);
      const root = rootOf(context, above);
      const recent = root?.recent_purchases;
      if (!Array.isArray(recent)) return 0;
      budget.spend(recent.length);
      const from = window === null ? Number.NEGATIVE_INFINITY : nowOf(context, above) - window * DAY_MS;
      let cents = 0;
      for (const p of recent as { category?: unknown; amount?: unknown; purchased_at?: unknown }[]) {
        if (p?.category !== category) continue;
        const at = toMillis(p.purchased_at);
        if (at === undefined || at < from) continue;
        cents += Math.round(Number(p.amount) * 100) || 0;
      }
      return cents / 100;
    },
    { deterministic: false },
  );

  // did_event / event_count read the customer's custom events (the context's `events`, or
  // `customer.events` in a trigger filter's `{event, customer}`). The name and the window are
  // literals; did_event's filter is JSON Logic over one event's properties, so the operator
  // is lazy (the filter must not run against the customer) and compiles the filter once.
  const filters = new WeakMap<object, (data: unknown) => unknown>();
  const filterOf = (filter: unknown): ((data: unknown) => unknown) => {
    if (filter === null || typeof filter !== 'object') return () => filter;
    let run = filters.get(filter);
    if (!run) {
      try {
        run = engine.build(filter) as (data: unknown) => unknown;
      } catch (error) {
        if (!(error instanceof EvalError)) throw error;
        run = (data: unknown) => engine.run(filter, data);
      }
      filters.set(filter, run);
    }
    return run;
  };
  const eventsIn = (args: unknown, context: unknown, above: unknown) => {
    if (!Array.isArray(args) || typeof args[0] !== 'string') throw INVALID_ARGUMENTS;
    const [name, days] = args as [string, unknown];
    const window = windowDays(days);
    const root = rootOf(context, above);
    const customer =
      root && 'events' in root ? root : (root?.customer as Record<string, unknown> | undefined);
    const events = customer?.events as
      | { name: string; at: string; properties: Record<string, unknown> }[]
      | undefined;
    if (!Array.isArray(events)) return [];
    budget.spend(events.length);
    const now = toMillis(customer?.now) ?? nowOf(context, above);
    const from = window === null ? Number.NEGATIVE_INFINITY : now - window * DAY_MS;
    return events.filter((e) => e.name === name && (toMillis(e.at) ?? Number.NEGATIVE_INFINITY) >= from);
  };
  engine.addMethod(
    'did_event',
    {
      lazy: true,
      method: (args: unknown, context: unknown, above: unknown) => {
        const matching = eventsIn(args, context, above);
        const filter = (args as unknown[])[2];
        if (filter === undefined || filter === null) return matching.length > 0;
        const run = filterOf(filter);
        return matching.some((e) => Boolean(engine.truthy(run(e.properties ?? {}))));
      },
    } as never,
    { deterministic: false },
  );
  engine.addMethod(
    'event_count',
    {
      lazy: true,
      method: (args: unknown, context: unknown, above: unknown) => eventsIn(args, context, above).length,
    } as never,
    { deterministic: false },
  );

  const asList = (value: unknown): unknown[] =>
    Array.isArray(value) ? value : value === null || value === undefined ? [] : [value];
  engine.addMethod(
    'has_any',
    (args: unknown) => {
      const [list, wanted] = args as [unknown, unknown];
      const have = asList(list);
      const want = asList(wanted);
      budget.spend(have.length * want.length);
      return want.some((w) => have.includes(w));
    },
    { deterministic: true },
  );
  engine.addMethod(
    'has_all',
    (args: unknown) => {
      const [list, wanted] = args as [unknown, unknown];
      const have = asList(list);
      const want = asList(wanted);
      budget.spend(have.length * want.length);
      return want.every((w) => have.includes(w));
    },
    { deterministic: true },
  );
}
