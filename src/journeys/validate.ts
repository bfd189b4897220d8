import { AppError, type FieldError, invalid } from '../http/problem.js';
import { assertValidRule } from '../rules/compile.js';
import { edgesOf, isWaiting, stepMap } from './graph.js';
import type { Definition } from './schema.js';

// Whole-definition checks, after the schema has checked each step's shape: unique ids, every
// reference exists, every step reachable from `start`, no cycle that does not pass through a
// wait, split weights adding up, and every JSON Logic rule valid. Each error names the step
// (in its message) and the field (in its path: `steps.<index>.<field>`).

/** The rule errors of one rule under `path`, as field errors (none when it is valid). */
function ruleErrors(rule: unknown, path: string, stepId?: string): FieldError[] {
  if (rule === undefined || rule === null) return [];
  try {
    assertValidRule(rule, path);
    return [];
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const prefix = stepId ? `step "${stepId}": ` : '';
    return (error.errors ?? [{ path, message: error.message }]).map((e) => ({
      path: e.path,
      in: 'body',
      message: `${prefix}${e.message}`,
    }));
  }
}

/** Every problem of a definition, in step order; empty when it may be saved. */
export function definitionErrors(d: Definition): FieldError[] {
  const errors: FieldError[] = [];
  const at = (i: number, field: string, id: string, message: string) =>
    errors.push({ path: `steps.${i}.${field}`, in: 'body', message: `step "${id}": ${message}` });
  const index = new Map<string, number>();
  d.steps.forEach((step, i) => {
    if (index.has(step.id)) at(i, 'id', step.id, `the id is used by steps.${index.get(step.id)} too`);
    else index.set(step.id, i);
  });
  if (!index.has(d.start)) errors.push({ path: 'start', in: 'body', message: `no step "${d.start}"` });

  d.steps.forEach((step, i) => {
    for (const edge of edgesOf(step)) {
      if (!index.has(edge.to)) at(i, edge.field, step.id, `no step "${edge.to}"`);
      else if (edge.to === step.id && !isWaiting(step))
        at(i, edge.field, step.id, 'a step cannot lead to itself');
    }
    if (step.type === 'wait' && (step.seconds === undefined) === (step.until === undefined))
      at(i, 'seconds', step.id, 'a wait needs either seconds or until, not both');
    if (step.type === 'split') {
      const total = step.paths.reduce((sum, p) => sum + p.weight, 0);
      if (total !== 100) at(i, 'paths', step.id, `the weights add up to ${total}, not 100`);
      if (step.paths.filter((p) => p.holdout).length > 1) at(i, 'paths', step.id, 'at most one holdout path');
    }
    if (step.type === 'branch') {
      if (step.rule === undefined || step.rule === null) at(i, 'rule', step.id, 'a branch needs a rule');
      errors.push(...ruleErrors(step.rule, `steps.${i}.rule`, step.id));
    }
    if (step.type === 'wait_for_event') errors.push(...ruleErrors(step.filter, `steps.${i}.filter`, step.id));
  });
  if ('event' in d.entry) errors.push(...ruleErrors(d.entry.filter, 'entry.filter'));
  if ('purchase' in d.entry) errors.push(...ruleErrors(d.entry.purchase.filter, 'entry.purchase.filter'));
  if (d.goal && 'event' in d.goal) errors.push(...ruleErrors(d.goal.filter, 'goal.filter'));
  if (d.goal && 'purchase' in d.goal)
    errors.push(...ruleErrors(d.goal.purchase.filter, 'goal.purchase.filter'));
  if (errors.length > 0) return errors;

  // Reachability from start (only once every reference resolves).
  const steps = stepMap(d);
  const seen = new Set<string>([d.start]);
  const queue = [d.start];
  while (queue.length > 0) {
    for (const edge of edgesOf(steps.get(queue.shift()!)!)) {
      if (!seen.has(edge.to)) {
        seen.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
  d.steps.forEach((step, i) => {
    if (!seen.has(step.id)) at(i, 'id', step.id, `not reachable from start "${d.start}"`);
  });

  // A cycle made only of steps that do not wait would run forever at once: depth-first search
  // over the non-waiting steps; a back edge closes such a cycle and names the field holding it.
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string): void => {
    state.set(id, 'open');
    const step = steps.get(id)!;
    for (const edge of edgesOf(step)) {
      const target = steps.get(edge.to)!;
      if (isWaiting(target)) continue;
      const s = state.get(edge.to);
      if (s === 'open')
        at(index.get(id)!, edge.field, id, `leads back to "${edge.to}" with no wait on the way`);
      else if (s === undefined) visit(edge.to);
    }
    state.set(id, 'done');
  };
  for (const step of d.steps) if (!isWaiting(step) && !state.has(step.id)) visit(step.id);
  return errors;
}

/** Throws the 422 of a definition's problems, if it has any. */
export function assertValidDefinition(d: Definition): void {
  const errors = definitionErrors(d);
  if (errors.length > 0) throw invalid(errors);
}
