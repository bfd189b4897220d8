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
      { path: 'eligibility.and.2.!', message: '"!" takes 1 argument(s), got 2' },
    ]);
    expect(fieldErrors(() => assertValidRule({ a: 1, b: 2 }, 'rule'))?.[0]?.path).toBe('rule');
    expect(fieldErrors(() => assertValidRule({ purchased_in: ['garden'] }, 'rule'))?.[0]?.path).toBe(
      'rule.purchased_in',
    );
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
