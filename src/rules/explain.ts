import { compileRule, evaluateRule } from './compile.js';

/*
 * Why a customer matches a rule, in words, for the live count's sample: each condition of the
 * rule's top-level group that holds for them, with the value that made it hold ("total_spent is
 * 340", "bought garden 12 days ago").
 */

const MAX_REASONS = 8;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const opOf = (node: unknown): [string, unknown[]] | undefined => {
  if (!isObject(node)) return undefined;
  const keys = Object.keys(node);
  if (keys.length !== 1) return undefined;
  const op = keys[0] as string;
  const raw = node[op];
  return [op, Array.isArray(raw) ? raw : [raw]];
};

const varOf = (node: unknown): string | undefined => {
  const parsed = opOf(node);
  if (parsed?.[0] !== 'var') return undefined;
  return typeof parsed[1][0] === 'string' ? parsed[1][0] : undefined;
};

const show = (value: unknown): string => {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(Math.round(value * 100) / 100);
  return JSON.stringify(value).slice(0, 80);
};

function holds(rule: unknown, context: unknown): boolean {
  try {
    const result = compileRule(rule)(context);
    return Array.isArray(result) ? result.length > 0 : Boolean(result);
  } catch {
    return false;
  }
}

function valueIn(node: unknown, context: unknown): unknown {
  try {
    return evaluateRule(node, context);
  } catch {
    return undefined;
  }
}

/** One condition in words, with the customer's own value. */
function describe(node: unknown, context: unknown): string {
  const parsed = opOf(node);
  if (!parsed) return JSON.stringify(node).slice(0, 120);
  const [op, args] = parsed;
  if (op === 'purchased_in') {
    const [category, days] = args;
    const last = (context as { last_purchase_by_category?: Record<string, string> })
      ?.last_purchase_by_category?.[String(category)];
    const when = last ? ` on ${last.slice(0, 10)}` : '';
    return `bought ${show(category)}${when}${typeof days === 'number' ? ` (within ${days} days)` : ''}`;
  }
  if (op === 'and' || op === 'or') {
    const parts = args.filter((a) => holds(a, context)).map((a) => describe(a, context));
    return parts.join(op === 'and' ? ' and ' : ' or ');
  }
  if (op === '!') return `not (${JSON.stringify(args[0]).slice(0, 100)})`;
  if (op === 'in' && typeof args[0] === 'string' && varOf(args[1])) {
    return varOf(args[1]) === 'consents' ? `consented to ${args[0]}` : `${varOf(args[1])} has ${args[0]}`;
  }
  if (op === 'has_any' || op === 'has_all') {
    const path = varOf(args[0]);
    if (path) return `${path} is ${show(valueIn(args[0], context))}`;
  }
  const left = args[0];
  const leftOp = opOf(left);
  if (leftOp && leftOp[0] !== 'var') {
    const value = valueIn(left, context);
    if (leftOp[0] === 'spent_in') {
      const [category, days] = leftOp[1];
      return `spent ${show(value)} in ${show(category)}${typeof days === 'number' ? ` in the last ${days} days` : ''}`;
    }
    if (leftOp[0] === 'days_since') {
      const path = varOf(leftOp[1][0]);
      return `${path ?? 'date'} ${show(value)} days ago`;
    }
    return `${JSON.stringify(left).slice(0, 60)} is ${show(value)}`;
  }
  const path = varOf(left) ?? varOf(args[1]);
  if (path) return `${path} is ${show(valueIn({ var: path }, context))}`;
  return JSON.stringify(node).slice(0, 120);
}

/** The reasons a rule holds for this context (empty when it does not). */
export function explainMatch(rule: unknown, context: unknown): string[] {
  if (!holds(rule, context)) return [];
  const parsed = opOf(rule);
  const children = parsed && (parsed[0] === 'and' || parsed[0] === 'or') ? parsed[1] : [rule];
  return children
    .filter((child) => holds(child, context))
    .slice(0, MAX_REASONS)
    .map((child) => describe(child, context));
}
