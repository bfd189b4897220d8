import { describe, expect, it } from 'vitest';
import { AppError } from '../http/problem.js';
import { assertValidRule, compileRule, evaluateRule, RULE_LIMITS, RuleError, varsUsed } from './compile.js';

function fieldErrors(fn: () => void) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).errors;
  }
  throw new Error('expected a validation error');
}

describe('compileRule', () => {
  it('compiles once per rule and evaluates JSON Logic', () => {
    const rule = {
      and: [{ '>': [{ var: 'total_spent' }, 100] }, { in: ['wine', { var: 'preferred_categories' }] }],
    };
    expect(compileRule(rule)).toBe(compileRule(JSON.parse(JSON.stringify(rule))));
    expect(compileRule(rule)({ total_spent: 150, preferred_categories: ['wine'] })).toBe(true);
    expect(compileRule(rule)({ total_spent: 50, preferred_categories: ['wine'] })).toBe(false);
  });

  it('reports evaluation errors with their kind', () => {
    expect(() => evaluateRule({ throw: 'Custom' }, null)).toThrow(RuleError);
    try {
      evaluateRule({ '/': [1, 0] }, null);
    } catch (error) {
      expect((error as RuleError).type).toBe('NaN');
    }
  });

  it('bounds iterations', () => {
    const big = Array.from({ length: RULE_LIMITS.maxIterations + 1 }, (_, i) => i);
    expect(() => evaluateRule({ map: [{ var: 'xs' }, { var: '' }] }, { xs: big })).toThrow(/Limit Exceeded/);
  });

  it('never reaches the prototype chain', () => {
    expect(fieldErrors(() => assertValidRule({ var: '__proto__' }, 'rule'))).toEqual([
      { path: 'rule.var', message: 'the path segment "__proto__" is not allowed' },
    ]);
    expect(fieldErrors(() => assertValidRule({ var: 'a.constructor.name' }, 'rule'))?.[0]?.path).toBe(
      'rule.var',
    );
    expect(
      fieldErrors(() => assertValidRule({ var: { cat: ['__pro', 'to__'] } }, 'rule'))?.[0]?.message,
    ).toMatch(/literal/);
    expect(evaluateRule({ var: 'constructor' }, {})).toBe(null);
  });
});

describe('assertValidRule', () => {
  it('names the JSON path of an unknown operator or a wrong arity', () => {
    expect(
      fieldErrors(() =>
        assertValidRule({ and: [{ '>': [1, 2] }, { foo: [1] }, { '!': [1, 2] }] }, 'eligibility'),
      ),
    ).toEqual([
      { path: 'eligibility.and.1.foo', message: 'unknown operator "foo"' },
      { path: 'eligibility.and.2.!', message: '"!" takes 0 to 1 argument(s), got 2' },
    ]);
    expect(fieldErrors(() => assertValidRule({ a: 1, b: 2 }, 'rule'))?.[0]?.path).toBe('rule');
    expect(fieldErrors(() => assertValidRule({ purchased_in: ['garden'] }, 'rule'))?.[0]?.path).toBe(
      'rule.purchased_in',
    );
  });

  it('accepts what the JSON Logic suites give a meaning to', () => {
    for (const rule of [
      { '/': [8, 2, 2] },
      { '/': 2 },
      { '-': 2 },
      { '%': [8, 6, 3] },
      { '<': [1, 2, 3] },
      { '==': [3, 3, 3] },
      { and: [] },
      { '*': [] },
      { '!': [] },
      { '+': [{}] },
      { '/': { preserve: [8, 2] } },
      { map: { preserve: [[1, 2, 3], { val: [] }] } },
      { all: [{ var: 'classes' }, { all: [{ var: 'students' }, { '>=': [{ var: 'grade' }, 60] }] }] },
    ]) {
      expect(() => assertValidRule(rule, 'rule'), JSON.stringify(rule)).not.toThrow();
    }
    expect(evaluateRule({ '/': [8, 2, 2] }, null)).toBe(2);
    expect(evaluateRule({ '/': 2 }, null)).toBe(0.5);
  });

  it("refuses what means nothing with the suites' error type as kind", () => {
    for (const [rule, kind] of [
      [{ '/': [] }, 'Invalid Arguments'],
      [{ '%': [1] }, 'Invalid Arguments'],
      [{ '<': [1] }, 'Invalid Arguments'],
      [{ map: 5 }, 'Invalid Arguments'],
      [{ nope: [1] }, 'Unknown Operator'],
      [{ var: { cat: ['a', 'b'] } }, 'Invalid Arguments'],
    ] as const) {
      try {
        assertValidRule(rule, 'rule');
        expect.unreachable(JSON.stringify(rule));
      } catch (error) {
        expect((error as AppError).extensions.kind, JSON.stringify(rule)).toBe(kind);
        expect((error as AppError).message).toContain(kind);
      }
    }
  });

  it('rejects 10,000-deep nesting without recursing', () => {
    let rule: unknown = true;
    for (let i = 0; i < 10_000; i++) rule = { '!': [rule] };
    expect(fieldErrors(() => assertValidRule(rule, 'rule'))?.[0]?.message).toMatch(/nested more than 64/);
    expect(() => compileRule(rule)).toThrow(AppError);
  });

  it('rejects rules with too many nodes', () => {
    const rule = {
      or: Array.from({ length: RULE_LIMITS.maxNodes }, (_, i) => ({ '==': [{ var: 'id' }, i] })),
    };
    expect(fieldErrors(() => assertValidRule(rule, 'rule'))?.[0]?.message).toMatch(/more than 5000 nodes/);
  });

  it('accepts the custom operators', () => {
    expect(() =>
      assertValidRule(
        {
          and: [
            { purchased_in: ['garden', 90] },
            { '>': [{ spent_in: ['garden', 90] }, 200] },
            { '<': [{ days_since: { var: 'last_purchase_at' } }, 60] },
            { has_any: [{ var: 'preferred_categories' }, ['wine', 'beer']] },
          ],
        },
        'rule',
      ),
    ).not.toThrow();
  });
});

describe('varsUsed', () => {
  it('lists literal var paths once', () => {
    expect(
      varsUsed({
        and: [
          { '>': [{ var: 'total_spent' }, 1] },
          { '==': [{ var: ['locale', 'de'] }, { var: 'total_spent' }] },
        ],
      }),
    ).toEqual(['total_spent', 'locale']);
  });
});
