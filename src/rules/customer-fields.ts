import {
  isComplete,
  selectArrayColumnCounts,
  selectCategoryCounts,
  selectColumnCounts,
  selectDeclaredAttributes,
  selectJsonKeyCounts,
} from './field-values.js';
import {
  customerPrefix,
  type FieldSource,
  type FieldSourceInput,
  type FieldType,
  type RuleField,
  registerFieldSource,
  registerRuleOperator,
  type ValueCount,
} from './fields.js';

/*
 * The customer's side of the field catalogue: what rules/context.ts puts in a customer's
 * context (profile, declared attributes, purchase aggregates) and the custom operators of
 * rules/operators.ts as readable conditions. Trigger filters see the same fields under
 * `customer.`.
 */

type Suggest = (input: FieldSourceInput) => Promise<ValueCount[]>;

interface Spec {
  path: string;
  label: string;
  type: FieldType;
  description?: string;
  keyed?: boolean;
  suggest?: Suggest;
}

/** How many categories the catalogue lists: enough to tell a typo from a category no one bought. */
const CATEGORY_LIMIT = 500;

const categories: Suggest = ({ sql, once, sampleRows }) =>
  once('categories', () => selectCategoryCounts(sql, CATEGORY_LIMIT, sampleRows));
const column =
  (name: string): Suggest =>
  ({ sql, valueLimit, sampleRows }) =>
    selectColumnCounts(sql, name, valueLimit, sampleRows);
const arrayColumn =
  (name: string): Suggest =>
  ({ sql, valueLimit, sampleRows }) =>
    selectArrayColumnCounts(sql, name, valueLimit, sampleRows);
const addressKey =
  (key: string): Suggest =>
  ({ sql, valueLimit, sampleRows }) =>
    selectJsonKeyCounts(sql, 'address', key, valueLimit, sampleRows);

const PROFILE: Spec[] = [
  { path: 'id', label: 'Customer id', type: 'number' },
  { path: 'first_name', label: 'First name', type: 'string' },
  { path: 'last_name', label: 'Last name', type: 'string' },
  { path: 'email', label: 'Email', type: 'string' },
  { path: 'external_id', label: 'External id', type: 'string' },
  { path: 'locale', label: 'Locale', type: 'string', suggest: column('locale') },
  { path: 'timezone', label: 'Time zone', type: 'string', suggest: column('timezone') },
  { path: 'address.city', label: 'City', type: 'string', suggest: addressKey('city') },
  { path: 'address.country', label: 'Country', type: 'string', suggest: addressKey('country') },
  { path: 'address.postal_code', label: 'Postal code', type: 'string' },
  { path: 'address', label: 'Address', type: 'object' },
  { path: 'age', label: 'Age', type: 'number' },
  { path: 'birth_date', label: 'Birth date', type: 'date' },
  { path: 'occupation', label: 'Occupation', type: 'string', suggest: column('occupation') },
  { path: 'income_band', label: 'Income band', type: 'string', suggest: column('income_band') },
  { path: 'education', label: 'Education', type: 'string', suggest: column('education') },
  {
    path: 'preferred_categories',
    label: 'Preferred categories',
    type: 'string_array',
    suggest: arrayColumn('preferred_categories'),
  },
  { path: 'hobbies', label: 'Hobbies', type: 'string_array', suggest: arrayColumn('hobbies') },
  { path: 'family', label: 'Family', type: 'array' },
  { path: 'preferences', label: 'Preferences', type: 'object' },
  { path: 'created_at', label: 'Signed up', type: 'date' },
  { path: 'days_since_signup', label: 'Days since sign-up', type: 'number' },
  {
    path: 'consents',
    label: 'Consents granted',
    type: 'string_array',
    description: 'Purposes with a granted consent (latest decision per purpose)',
  },
  { path: 'now', label: 'Now (evaluation time)', type: 'date' },
];

const AGGREGATES: Spec[] = [
  { path: 'total_spent', label: 'Total spent', type: 'number', description: 'Net of refunds, all time' },
  { path: 'orders_count', label: 'Number of orders', type: 'number' },
  { path: 'avg_order_value', label: 'Average order value', type: 'number' },
  { path: 'first_purchase_at', label: 'First purchase', type: 'date' },
  { path: 'last_purchase_at', label: 'Last purchase', type: 'date' },
  { path: 'days_since_last_purchase', label: 'Days since last purchase', type: 'number' },
  { path: 'top_category', label: 'Top category', type: 'string', suggest: categories },
  { path: 'categories_bought', label: 'Categories bought', type: 'string_array', suggest: categories },
  {
    path: 'spend_by_category',
    label: 'Spent in category (all time)',
    type: 'number',
    keyed: true,
    description: 'spend_by_category.<category>',
    suggest: categories,
  },
  {
    path: 'last_purchase_by_category',
    label: 'Last purchase in category',
    type: 'date',
    keyed: true,
    description: 'last_purchase_by_category.<category>',
    suggest: categories,
  },
  { path: 'recent_purchases', label: 'Recent purchase lines', type: 'array' },
];

async function fieldsOf(specs: Spec[], group: string, input: FieldSourceInput): Promise<RuleField[]> {
  const prefix = customerPrefix(input.scope);
  return Promise.all(
    specs.map(async (spec) => {
      const field: RuleField = { path: prefix + spec.path, label: spec.label, type: spec.type, group };
      if (spec.description) field.description = spec.description;
      if (spec.keyed) field.keyed = true;
      if (spec.suggest && input.wants(field.path)) {
        const values = await spec.suggest(input);
        const limit = spec.suggest === categories ? CATEGORY_LIMIT : input.valueLimit;
        field.values = values;
        field.values_complete = isComplete(values, limit);
      }
      return field;
    }),
  );
}

const ATTRIBUTE_TYPES: Record<string, FieldType> = {
  string: 'string',
  number: 'number',
  boolean: 'boolean',
  date: 'date',
  string_array: 'string_array',
};

export const profileFields: FieldSource = {
  name: 'profile',
  fields: (input) => fieldsOf(PROFILE, 'Profile', input),
};

export const aggregateFields: FieldSource = {
  name: 'purchases',
  fields: (input) => fieldsOf(AGGREGATES, 'Purchases', input),
};

/**
 * Declared attributes with their types. A sensitive one carries its consent purpose and the
 * condition a rule must add to read it (privacy/guard.ts); its values are never suggested.
 */
export const attributeFields: FieldSource = {
  name: 'attributes',
  async fields(input) {
    const prefix = customerPrefix(input.scope);
    const declared = await selectDeclaredAttributes(input.sql);
    return Promise.all(
      declared.map(async (a) => {
        const field: RuleField = {
          path: `${prefix}attributes.${a.key}`,
          label: a.description ? `${a.key} (${a.description})` : a.key,
          type: ATTRIBUTE_TYPES[a.type] ?? 'string',
          group: 'Attributes',
        };
        if (a.sensitive && a.purpose) {
          field.sensitive = true;
          field.purpose = a.purpose;
          // The declaration privacy/guard.ts looks for in a top-level "and".
          field.requires = { in: [a.purpose, { var: `${prefix}consents` }] };
          field.description = `Special category: the rule must also require consent to “${a.purpose}”`;
        } else if (a.type === 'string' && input.wants(field.path)) {
          const values = await selectJsonKeyCounts(
            input.sql,
            'attributes',
            a.key,
            input.valueLimit,
            input.sampleRows,
          );
          field.values = values;
          field.values_complete = isComplete(values, input.valueLimit);
        }
        return field;
      }),
    );
  },
};

/** The custom operators that read the whole customer context (so not inside a trigger's `{event, customer}`). */
const CUSTOMER_ROOT_SCOPES = ['segment', 'offer', 'journey'] as const;

/** Registers the customer field sources and the custom operators of rules/operators.ts. */
export function registerCustomerFields(): void {
  registerFieldSource(profileFields);
  registerFieldSource(attributeFields);
  registerFieldSource(aggregateFields);
  registerRuleOperator({
    op: 'purchased_in',
    label: 'Bought in category',
    sentence: 'bought in category {category} in the last {days} days',
    args: [
      { name: 'category', type: 'string', values_from: 'categories_bought' },
      { name: 'days', type: 'number', optional: true },
    ],
    returns: 'boolean',
    example: { purchased_in: ['garden', 90] },
    scopes: [...CUSTOMER_ROOT_SCOPES],
  });
  registerRuleOperator({
    op: 'spent_in',
    label: 'Spent in category',
    sentence: 'spent in category {category} in the last {days} days',
    args: [
      { name: 'category', type: 'string', values_from: 'categories_bought' },
      { name: 'days', type: 'number', optional: true },
    ],
    returns: 'number',
    example: { '>': [{ spent_in: ['garden', 90] }, 100] },
    scopes: [...CUSTOMER_ROOT_SCOPES],
  });
  registerRuleOperator({
    op: 'days_since',
    label: 'Days since a date',
    sentence: 'days since {date}',
    args: [{ name: 'date', type: 'date' }],
    returns: 'number',
    example: { '>': [{ days_since: { var: 'last_purchase_at' } }, 30] },
  });
  registerRuleOperator({
    op: 'has_any',
    label: 'Has any of',
    sentence: '{list} has any of {values}',
    args: [
      { name: 'list', type: 'string_array' },
      { name: 'values', type: 'string_array' },
    ],
    returns: 'boolean',
    example: { has_any: [{ var: 'preferred_categories' }, ['garden', 'outdoor']] },
  });
  registerRuleOperator({
    op: 'has_all',
    label: 'Has all of',
    sentence: '{list} has all of {values}',
    args: [
      { name: 'list', type: 'string_array' },
      { name: 'values', type: 'string_array' },
    ],
    returns: 'boolean',
    example: { has_all: [{ var: 'hobbies' }, ['cycling']] },
  });
}
