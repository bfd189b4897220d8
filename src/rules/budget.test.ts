import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../http/problem.js';
import { countNodes, worstCaseSteps } from './budget.js';
import { assertValidRule, evaluateRule, RULE_LIMITS, RuleError } from './compile.js';

const N = RULE_LIMITS.maxIterations;
/** `depth` maps nested over the root's `xs`: the inner ones climb scopes (`val [[2k]]`) to reach it. */
const inner = (climb: number, depth: number): unknown =>
  depth === 0 ? 1 : { map: [{ val: [[climb], 'xs'] }, inner(climb + 2, depth - 1)] };
const outer = (depth: number): unknown => ({ map: [{ var: 'xs' }, inner(2, depth - 1)] });
const flatCount = (value: unknown): number =>
  Array.isArray(value) ? value.reduce((n: number, v) => n + flatCount(v), 0) : 1;

describe('worstCaseSteps', () => {
  it('multiplies nested iterators over outer data, adds those over the element', () => {
    const own = {
      some: [{ var: 'classes' }, { some: [{ var: 'students' }, { '==': [{ var: 'grade' }, 'A'] }] }],
    };
    expect(worstCaseSteps(own, N)).toBeLessThan(RULE_LIMITS.maxSteps);
    const climbing = { map: [{ var: 'xs' }, { map: [{ val: [[2], 'xs'] }, 1] }] };
    expect(worstCaseSteps(climbing, N)).toBeGreaterThanOrEqual(N * N);
    const literal = { map: [[1, 2, 3], { var: '' }] };
    expect(worstCaseSteps(literal, N)).toBe(countNodes(literal) + 3 * countNodes({ var: '' }));
  });

  it('bounds what an evaluation spends, for any data (property)', () => {
    // A rule the validator accepts never stops on the budget over data of at most 10,000
    // elements per list, and one that stops has a worst case over the budget.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 3 }), (len, depth) => {
        const rule = outer(depth);
        const xs = Array.from({ length: len }, (_, i) => i);
        let stopped = false;
        try {
          const result = evaluateRule(rule, { xs });
          expect(len === 0 ? 0 : flatCount(result)).toBe(len ** depth);
        } catch (error) {
          expect(error).toBeInstanceOf(RuleError);
          expect((error as RuleError).type).toBe('Limit Exceeded');
          stopped = true;
        }
        if (stopped) expect(worstCaseSteps(rule, N)).toBeGreaterThan(RULE_LIMITS.maxSteps);
        // What runs counts len^depth × callback nodes at most.
        if (len ** depth * countNodes(rule) <= RULE_LIMITS.maxSteps) expect(stopped).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});

describe('the step budget', () => {
  it('stops nested iterators over outer data before they walk it all', () => {
    const xs = Array.from({ length: 200 }, (_, i) => i);
    // 200^3 = 8,000,000 innermost calls without a budget.
    expect(() => evaluateRule(outer(3), { xs })).toThrow(/Limit Exceeded/);
  });

  it('counts a search through outer data inside an iterator', () => {
    const big = Array.from({ length: N }, (_, i) => `item-${i}`);
    expect(() =>
      evaluateRule({ map: [{ var: 'big' }, { in: ['zzz', { val: [[2], 'big'] }] }] }, { big }),
    ).toThrow(/Limit Exceeded/);
    expect(evaluateRule({ in: ['item-9', { var: 'big' }] }, { big })).toBe(true);
  });

  it('counts literal lists walked inside an iterator', () => {
    const literal = Array.from({ length: 2000 }, (_, i) => i);
    const rule = { map: [{ var: 'xs' }, { some: [literal, { '==': [{ var: '' }, -1] }] }] };
    expect(() => assertValidRule(rule, 'eligibility')).toThrow(AppError);
    expect(() => evaluateRule(rule, { xs: Array.from({ length: 1000 }, (_, i) => i) })).toThrow(
      /Limit Exceeded/,
    );
  });

  it('refuses at save a rule whose worst case is over the budget, naming the field', () => {
    try {
      assertValidRule(outer(3), 'eligibility');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).errors?.[0]?.path).toBe('eligibility');
      expect((error as AppError).extensions.kind).toBe('Limit Exceeded');
    }
  });

  it('starts every evaluation with the whole budget', () => {
    const rule = { map: [{ var: 'xs' }, { '+': [{ var: '' }, 1] }] };
    const xs = Array.from({ length: N }, (_, i) => i);
    for (let i = 0; i < 50; i++) expect((evaluateRule(rule, { xs }) as number[]).length).toBe(N);
  });
});

describe('strings', () => {
  it('cat builds at most 64 KiB', () => {
    const rule = { reduce: [{ var: 'xs' }, { cat: [{ var: 'accumulator' }, { var: 'accumulator' }] }, 'x'] };
    expect(() => evaluateRule(rule, { xs: Array.from({ length: 40 }, (_, i) => i) })).toThrow(
      /Limit Exceeded/,
    );
    expect(evaluateRule(rule, { xs: [1, 2, 3] })).toBe('xxxxxxxx');
  });
});
