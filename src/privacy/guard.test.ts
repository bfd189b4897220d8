import { describe, expect, it } from 'vitest';
import { checkSensitiveUse, declaredPurposes, pathsRead, sensitiveReads, withPurposes } from './guard.js';

const registry = [
  { key: 'diagnosis', category: 'health', purpose: 'sensitive:health' },
  { key: 'party', category: 'political_opinions', purpose: 'sensitive:political_opinions' },
];

describe('pathsRead', () => {
  it('collects paths from every path operator, including the whole-context read', () => {
    expect(
      pathsRead({
        and: [
          { var: 'attributes.diagnosis' },
          { val: ['attributes', 'party'] },
          { missing: ['a.b', 'c'] },
          { missing_some: [1, ['d']] },
          { get: [{ var: 'x' }, 'y.z'] },
          { var: '' },
        ],
      }).sort(),
    ).toEqual(['', 'a.b', 'attributes.diagnosis', 'attributes.party', 'c', 'd', 'x', 'y.z']);
  });
});

describe('sensitiveReads', () => {
  it('finds direct, nested, whole-object and whole-context reads; ignores ordinary paths', () => {
    expect(sensitiveReads({ var: 'attributes.diagnosis' }, registry).map((a) => a.key)).toEqual([
      'diagnosis',
    ]);
    expect(sensitiveReads({ var: 'attributes' }, registry)).toHaveLength(2);
    expect(sensitiveReads({ var: '' }, registry)).toHaveLength(2);
    expect(sensitiveReads({ '>': [{ var: 'total_spent' }, 3] }, registry)).toEqual([]);
  });
});

describe('declaredPurposes and checkSensitiveUse', () => {
  const reads = { '==': [{ var: 'attributes.diagnosis' }, 'asthma'] };

  it('accepts a top-level consents test as the declaration, alone or in the top-level and', () => {
    expect(declaredPurposes(withPurposes(reads, ['sensitive:health']))).toEqual(['sensitive:health']);
    expect(declaredPurposes({ in: ['p', { var: 'consents' }] })).toEqual(['p']);
    // Nested deeper it is not a declaration: an `or` could bypass it.
    expect(declaredPurposes({ or: [{ in: ['p', { var: 'consents' }] }, reads] })).toEqual([]);
  });

  it('names the field and the purpose to declare', () => {
    expect(checkSensitiveUse(reads, registry, 'eligibility')).toEqual([
      expect.objectContaining({ path: 'eligibility', message: expect.stringContaining('sensitive:health') }),
    ]);
    expect(checkSensitiveUse(withPurposes(reads, ['sensitive:health']), registry, 'rule')).toEqual([]);
    expect(checkSensitiveUse(null, registry, 'score')).toEqual([]);
  });
});
