import { describe, expect, it } from 'vitest';
import { nonNumericScore } from './catalogue.js';
import { prepareOffer, sensitiveReads } from './prepare.js';
import type { OfferRow } from './store.js';

const registry = [
  { key: 'diagnosis', purpose: 'health' },
  { key: 'party', purpose: 'politics' },
];

describe('sensitiveReads', () => {
  it('finds sensitive attributes read at the top, under attributes., or by a path into them', () => {
    expect(sensitiveReads(['total_spent', 'attributes.diagnosis'], registry)).toEqual([
      { attribute: 'diagnosis', purpose: 'health' },
    ]);
    expect(sensitiveReads(['party.name'], registry)).toEqual([{ attribute: 'party', purpose: 'politics' }]);
    expect(sensitiveReads(['attributes'], registry)).toHaveLength(2);
    expect(sensitiveReads(['diagnosis_date', 'attributes.partying'], registry)).toEqual([]);
  });
});

describe('nonNumericScore', () => {
  it('accepts numeric expressions and rejects what can never be a number', () => {
    expect(nonNumericScore({ var: ['spend_by_category.garden', 0] })).toEqual([]);
    expect(nonNumericScore({ '+': [1, { var: 'x' }] })).toEqual([]);
    expect(nonNumericScore(3)).toEqual([]);
    expect(nonNumericScore('high')[0]?.path).toBe('score');
    expect(nonNumericScore(true)[0]?.path).toBe('score');
    expect(nonNumericScore({ and: [true, 1] })[0]?.path).toBe('score.and');
    expect(nonNumericScore({ if: [{ var: 'vip' }, 10, 'none'] })[0]?.path).toBe('score.if.2');
    expect(nonNumericScore({ if: [{ '>': [{ var: 'x' }, 1] }, 10, 0] })).toEqual([]);
  });
});

describe('prepareOffer', () => {
  it('compiles rules and turns a stored rule that no longer compiles into an evaluation error', () => {
    const row = {
      id: 1,
      eligibility: { '>': [{ var: 'attributes.diagnosis' }, 1] },
      score: { '+': [{ var: 'x' }, 1] },
      valid_from: null,
      valid_to: new Date('2026-01-01T00:00:00Z'),
      cap_per_customer_count: 2,
      cap_per_customer_days: 7,
    } as unknown as OfferRow;
    const prepared = prepareOffer(row, registry);
    expect(prepared.eligibility?.({ attributes: { diagnosis: 2 } })).toBe(true);
    expect(prepared.score?.({ x: 4 })).toBe(5);
    expect(prepared.validTo).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(prepared.sensitive).toEqual([{ attribute: 'diagnosis', purpose: 'health' }]);
    // Nested beyond the compile bound: stored before the bound existed, say.
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = { '+': [deep, 1] };
    const broken = prepareOffer({ ...row, eligibility: deep }, registry);
    expect(() => broken.eligibility?.({})).toThrow();
  });
});
