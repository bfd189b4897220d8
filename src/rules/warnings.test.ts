import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldCatalogue } from './fields.js';
import { ruleWarnings } from './warnings.js';

const catalogue: FieldCatalogue = {
  scope: 'segment',
  event: null,
  operators: [],
  type_operators: {},
  fields: [
    { path: 'total_spent', label: 'Total spent', type: 'number', group: 'Purchases' },
    { path: 'orders_count', label: 'Orders', type: 'number', group: 'Purchases' },
    {
      path: 'locale',
      label: 'Locale',
      type: 'string',
      group: 'Profile',
      values: [
        { value: 'de', count: 3 },
        { value: 'fr', count: 2 },
      ],
      values_complete: true,
    },
    {
      path: 'categories_bought',
      label: 'Categories',
      type: 'string_array',
      group: 'Purchases',
      values: [
        { value: 'garden', count: 4 },
        { value: 'books', count: 1 },
      ],
      values_complete: true,
    },
    {
      path: 'spend_by_category',
      label: 'Spent in',
      type: 'number',
      group: 'Purchases',
      keyed: true,
      values: [{ value: 'garden', count: 4 }],
      values_complete: true,
    },
  ],
};

/** Conditions over the catalogue's fields and values only: nothing to warn about. */
const known = fc.oneof(
  fc
    .record({
      op: fc.constantFrom('>', '>=', '<', '==', '!='),
      field: fc.constantFrom('total_spent', 'orders_count'),
      n: fc.integer(),
    })
    .map(({ op, field, n }) => ({ [op]: [{ var: field }, n] })),
  fc.constantFrom('de', 'fr').map((v) => ({ '==': [{ var: 'locale' }, v] })),
  fc
    .record({ c: fc.constantFrom('garden', 'books'), d: fc.option(fc.nat(365), { nil: null }) })
    .map(({ c, d }) => ({
      purchased_in: [c, d],
    })),
  fc.constantFrom('garden', 'books').map((c) => ({ in: [c, { var: 'categories_bought' }] })),
  fc.nat().map((n) => ({ '>': [{ var: 'spend_by_category.garden' }, n] })),
);
const rule = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    known,
    fc.array(tie('node'), { maxLength: 4 }).map((items) => ({ and: items })),
    fc.array(tie('node'), { maxLength: 4 }).map((items) => ({ or: items })),
    tie('node').map((inner) => ({ '!': inner })),
  ),
})).node;

describe('ruleWarnings', () => {
  it('never warns about a rule made of known fields and values, however it is nested', () => {
    fc.assert(
      fc.property(rule, (r) => {
        expect(ruleWarnings(catalogue, r)).toEqual([]);
      }),
    );
  });

  it('never throws and stays bounded, whatever JSON it is given', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const warnings = ruleWarnings(catalogue, value);
        expect(warnings.length).toBeLessThanOrEqual(100);
        for (const w of warnings) expect(w.path.startsWith('rule')).toBe(true);
      }),
    );
  });

  it('names an unknown field at its path, with the closest known one', () => {
    fc.assert(
      fc.property(fc.constantFrom('totl_spent', 'total_spnt', 'ordrs_count'), (typo) => {
        const [w] = ruleWarnings(catalogue, { and: [true, { '>': [{ var: typo }, 1] }] });
        expect(w?.path).toBe('rule.and.1.>.0.var');
        expect(w?.message).toMatch(
          new RegExp(`^unknown field ${typo}; did you mean (total_spent|orders_count)\\?$`),
        );
      }),
    );
  });
});
