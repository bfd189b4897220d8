import { AppError } from '../http/problem.js';

/**
 * Handlebars runs synchronously, so nothing can interrupt a render from outside. Instead every
 * helper and every `{{#each}}` iteration charges a budget (steps, output characters, wall time)
 * and throws once it is spent. Inputs are bounded too (see data.ts), so a render is bounded.
 */
export interface RenderLimits {
  /** Helper calls and loop iterations, all together. */
  maxSteps: number;
  /** Characters produced inside loops (nested loops count again: a conservative bound). */
  maxOutputChars: number;
  maxMs: number;
}

export const DEFAULT_LIMITS: RenderLimits = { maxSteps: 50_000, maxOutputChars: 4_000_000, maxMs: 500 };

export class RenderLimitError extends AppError {
  constructor(what: string) {
    super(422, 'render-limit', `The template exceeded its render limits (${what})`);
  }
}

export interface Budget {
  limits: RenderLimits;
  steps: number;
  chars: number;
  deadline: number;
}

let current: Budget | undefined;

/** Starts a render's budget; pass what it returns to endBudget (in a finally). */
export function startBudget(limits: RenderLimits): Budget | undefined {
  const previous = current;
  current = { limits, steps: 0, chars: 0, deadline: performance.now() + limits.maxMs };
  return previous;
}

export function endBudget(previous: Budget | undefined): void {
  current = previous;
}

/** Runs one render under a budget. */
export function withBudget<T>(limits: RenderLimits, render: () => T): T {
  const previous = startBudget(limits);
  try {
    return render();
  } finally {
    endBudget(previous);
  }
}

/** Charges one step; the clock is read every 256 steps because reading it costs more than a step. */
export function tick(): void {
  const b = current;
  if (!b) return;
  b.steps++;
  if (b.steps > b.limits.maxSteps) throw new RenderLimitError(`more than ${b.limits.maxSteps} steps`);
  if ((b.steps & 255) === 0 && performance.now() > b.deadline)
    throw new RenderLimitError(`more than ${b.limits.maxMs} ms`);
}

export function charge(chars: number): void {
  const b = current;
  if (!b) return;
  b.chars += chars;
  if (b.chars > b.limits.maxOutputChars)
    throw new RenderLimitError(`more than ${b.limits.maxOutputChars} characters`);
  tick();
}
