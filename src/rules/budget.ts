/*
 * The work budget of one rule evaluation. Iterators nest, and an inner iterator may read data
 * from outside the element it is called for, so the iteration cap of one iterator does not
 * bound an evaluation: three nested `map`s over 200 elements walk 8,000,000. The budget counts
 * the nodes an evaluation runs inside iterators (elements walked × nodes of the callback) across
 * every level of nesting, and the same count, taken at its worst, decides at save time.
 */

/** Operators that run a callback once per element of their first argument. */
export const ITERATORS: ReadonlySet<string> = new Set(['map', 'filter', 'reduce', 'all', 'some', 'none']);

/** Nodes (operations, arrays, literals) in a rule; iterative, stops counting past `cap`. */
export function countNodes(rule: unknown, cap = Number.MAX_SAFE_INTEGER): number {
  let n = 0;
  const stack: unknown[] = [rule];
  while (stack.length && n < cap) {
    const node = stack.pop();
    n++;
    if (node === null || typeof node !== 'object') continue;
    for (const value of Array.isArray(node) ? node : Object.values(node)) stack.push(value);
  }
  return n;
}

/** The operator of a node `{op: args}`, when it is one. */
function operatorOf(node: unknown): string | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 ? keys[0] : undefined;
}

/** How many elements an iterator's collection can have: a literal's length, else the cap. */
function collectionBound(collection: unknown, maxIterations: number): number {
  if (Array.isArray(collection)) return Math.min(collection.length, maxIterations);
  if (operatorOf(collection) === 'preserve') {
    const preserved = (collection as { preserve: unknown }).preserve;
    return Array.isArray(preserved) ? Math.min(preserved.length, maxIterations) : 1;
  }
  return maxIterations;
}

/** `{"val": [[n], ...]}` (and `exists` alike) climbs out of the current element to outer data. */
function climbsScope(node: unknown): boolean {
  const stack: unknown[] = [node];
  while (stack.length) {
    const item = stack.pop();
    if (item === null || typeof item !== 'object') continue;
    if (Array.isArray(item)) {
      stack.push(...item);
      continue;
    }
    const op = operatorOf(item);
    const args = op === undefined ? undefined : (item as Record<string, unknown>)[op];
    if ((op === 'val' || op === 'exists') && Array.isArray(args) && Array.isArray(args[0])) return true;
    if (op !== undefined) stack.push(args);
  }
  return false;
}

/**
 * The most steps an evaluation of `rule` can count against the budget: every iterator over
 * data is assumed to walk `maxIterations` elements. Inside a callback, an iterator over the
 * current element's own lists adds (all its calls together walk the outer collection's
 * elements' lists); one over outer data (`val` climbing scopes) or a literal list multiplies
 * (it walks all of it once per outer element). Saturates at Number.MAX_SAFE_INTEGER.
 */
export function worstCaseSteps(rule: unknown, maxIterations: number): number {
  let total = countNodes(rule);
  /** times: how often the node may run; outer: how often the enclosing iterator may run. */
  const stack: { node: unknown; times: number; outer?: number }[] = [{ node: rule, times: 1 }];
  while (stack.length) {
    const { node, times, outer } = stack.pop() as { node: unknown; times: number; outer?: number };
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push({ node: item, times, outer });
      continue;
    }
    const op = operatorOf(node);
    const args = op === undefined ? undefined : (node as Record<string, unknown>)[op];
    if (op === undefined || op === 'preserve') continue;
    if (!ITERATORS.has(op) || !Array.isArray(args) || args.length < 2) {
      stack.push({ node: args, times, outer });
      continue;
    }
    const [collection, callback, ...rest] = args;
    const literal = Array.isArray(collection) || operatorOf(collection) === 'preserve';
    const local = outer !== undefined && !literal && !climbsScope(collection);
    const calls = Math.min(
      (local ? (outer as number) : times) * collectionBound(collection, maxIterations),
      Number.MAX_SAFE_INTEGER,
    );
    total = Math.min(total + calls * countNodes(callback), Number.MAX_SAFE_INTEGER);
    stack.push({ node: collection, times, outer });
    stack.push({ node: callback, times: calls, outer: times });
    for (const other of rest) stack.push({ node: other, times, outer });
  }
  return total;
}

/** The step counter of one engine: evaluations are synchronous, so one counter serves them all. */
export interface StepBudget {
  /** Starts a new evaluation (or build) with the full budget. */
  reset(): void;
  /** Counts `steps`; throws `{type: 'Limit Exceeded'}` past the budget. */
  spend(steps: number): void;
}

export function createStepBudget(maxSteps: number): StepBudget {
  let used = 0;
  return {
    reset() {
      used = 0;
    },
    spend(steps: number) {
      used += steps;
      if (used > maxSteps) throw { type: 'Limit Exceeded' };
    },
  };
}
