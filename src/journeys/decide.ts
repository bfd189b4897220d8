import { point } from '../holdouts/assign.js';
import { compileRule } from '../rules/compile.js';
import type { Step } from './schema.js';

// The decisions of branch and split steps, pure, shared by the runner and the dry run.

type BranchStep = Extract<Step, { type: 'branch' }>;
type SplitStep = Extract<Step, { type: 'split' }>;

/** Which way a branch goes for `{customer, event}`; a rule that throws on this data goes `else`. */
export function branchOutcome(
  step: BranchStep,
  data: { customer: unknown; event: unknown },
): { outcome: 'then' | 'else'; next: string; error: string | null } {
  try {
    return compileRule(step.rule)(data)
      ? { outcome: 'then', next: step.then, error: null }
      : { outcome: 'else', next: step.else, error: null };
  } catch (error) {
    return {
      outcome: 'else',
      next: step.else,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Which path of a split a customer takes: a stable hash of (journey, step, customer) placed on
 * the cumulative weights, so the same customer always takes the same path of the same split.
 */
export function splitOutcome(
  step: SplitStep,
  journeyId: number,
  customerId: number,
): { outcome: string; next: string; holdout: boolean } {
  const at = point(`journey:${journeyId}:${step.id}`, customerId);
  let sum = 0;
  for (const [i, path] of step.paths.entries()) {
    sum += path.weight;
    if (at < sum || i === step.paths.length - 1)
      return {
        outcome: path.holdout ? 'holdout' : `path_${i}`,
        next: path.next,
        holdout: path.holdout ?? false,
      };
  }
  throw new Error('a split has paths');
}
