import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { AppError, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { assertValidRule, evaluateRule, RuleError } from './compile.js';
import { buildContext } from './context.js';
import { registerCustomerFields } from './customer-fields.js';
import { fieldCatalogue, RULE_SCOPES, type RuleScope } from './fields.js';
import { warnRules } from './warnings.js';

const ValueCountSchema = z.object({
  value: z.string(),
  count: z.number().int(),
  estimated: z
    .boolean()
    .optional()
    .openapi({ description: 'True when the count is scaled up from a sample of a large table' }),
});
const FieldType = z.enum(['number', 'string', 'boolean', 'date', 'string_array', 'object', 'array']);

const RuleFieldSchema = z
  .object({
    path: z.string().openapi({ description: 'The `var` path in this scope', example: 'total_spent' }),
    label: z.string(),
    type: FieldType,
    group: z.string().openapi({ example: 'Purchases' }),
    description: z.string().optional(),
    sensitive: z.boolean().optional().openapi({ description: 'A special category of personal data' }),
    purpose: z.string().optional().openapi({ description: 'The consent purpose a sensitive field needs' }),
    requires: z
      .unknown()
      .optional()
      .openapi({
        description: 'The condition a rule reading this field must add to a top-level `and` (its consent)',
        example: { in: ['health', { var: 'consents' }] },
      }),
    values: z.array(ValueCountSchema).optional().openapi({
      description: 'What the data holds, most common first, with how many customers have each value',
    }),
    values_complete: z.boolean().optional().openapi({ description: '`values` lists every value there is' }),
    keyed: z
      .boolean()
      .optional()
      .openapi({ description: 'Children are keys from `values`: `spend_by_category.garden`' }),
  })
  .openapi('RuleField');

const RuleOperatorSchema = z
  .object({
    op: z.string().openapi({ example: 'purchased_in' }),
    label: z.string(),
    sentence: z.string().openapi({ example: 'bought in category {category} in the last {days} days' }),
    args: z.array(
      z.object({
        name: z.string(),
        type: FieldType,
        values_from: z.string().optional(),
        optional: z.boolean().optional(),
      }),
    ),
    returns: z.enum(['boolean', 'number']),
    example: z.unknown(),
    scopes: z.array(z.enum(RULE_SCOPES as [RuleScope, ...RuleScope[]])).optional(),
  })
  .openapi('RuleOperator');

const CatalogueSchema = z
  .object({
    scope: z.enum(RULE_SCOPES as [RuleScope, ...RuleScope[]]),
    event: z.string().nullable(),
    fields: z.array(RuleFieldSchema),
    operators: z.array(RuleOperatorSchema),
    type_operators: z.record(z.string(), z.array(z.string())).openapi({
      description:
        'Comparisons that fit each field type; `days_ago_more`/`days_ago_less` stand for `{">": [{"days_since": …}, n]}` and `{"<=": …}`, `contains` for `{"in": [value, {"var": …}]}`',
    }),
  })
  .openapi('RuleFieldCatalogue');

const fieldsRoute = defineRoute({
  method: 'get',
  path: '/v1/rules/fields',
  tags: ['rules'],
  summary: 'The fields and conditions a rule may use, with the values the data holds',
  description:
    'One catalogue for the rule builder of segments, offer eligibility and score rules, trigger filters and journey conditions: profile fields, declared attributes with their types (sensitive ones with the consent condition to add), purchase aggregates, the custom operators as readable conditions, and for `for=trigger` the fields of the trigger’s `event` (customer fields then sit under `customer.`). Values come with how many customers hold them.',
  roles: ACCESS.marketingRead,
  request: {
    query: z.object({
      for: z
        .enum(RULE_SCOPES as [RuleScope, ...RuleScope[]])
        .default('segment')
        .openapi({ description: 'What the rule is for' }),
      event: z
        .string()
        .regex(/^[a-z][a-z0-9_.:-]{0,99}$/, 'an event type name')
        .optional()
        .openapi({ description: 'For a trigger filter: the trigger’s event', example: 'purchase' }),
    }),
  },
  responses: { 200: jsonResponse(CatalogueSchema, 'The catalogue') },
});

/** A JSON Logic rule: any JSON value; checked by assertValidRule, which never recurses. */
export const RuleSchema = z
  .unknown()
  .refine((value) => value !== undefined, { message: 'a rule is required' })
  .openapi({
    description: 'A JSON Logic rule over the customer context (docs/rules.md)',
    example: { and: [{ '>': [{ var: 'total_spent' }, 200] }, { purchased_in: ['garden', 90] }] },
  });

const EvaluateBody = z
  .strictObject({
    rule: RuleSchema,
    data: z
      .unknown()
      .optional()
      .openapi({ description: 'The data the rule reads (e.g. a customer context)' }),
  })
  .openapi('RuleEvaluation');

const evaluateRoute = defineRoute({
  method: 'post',
  path: '/v1/rules/evaluate',
  tags: ['rules'],
  summary: 'Evaluate a rule against data (the rule tester)',
  description:
    'Validates the rule, then runs it. A rule that is unsafe or means nothing (an unknown operator, too few arguments, a computed data path, a worst case over the step budget) is a 422 `validation` problem naming the JSON path, with `kind` (`Invalid Arguments`, `Unknown Operator`, `Limit Exceeded`). An error raised by the rule itself is a 422 `rule-error` problem with `kind` (e.g. `NaN`, `Invalid Arguments`, `Limit Exceeded`, or the value of `throw`). Either kind is also named in `detail`.',
  roles: ACCESS.marketing,
  request: { body: jsonBody(EvaluateBody) },
  responses: { 200: jsonResponse(z.object({ result: z.unknown() }).openapi('RuleResult'), 'The result') },
});

const contextRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/context',
  tags: ['rules', 'customers'],
  summary: 'What a rule sees for this customer',
  description:
    'Profile, purchase aggregates and recent purchases at the current time; `var` paths in rules address these fields. Sensitive attributes appear only with a granted consent for their purpose.',
  roles: ACCESS.decisions,
  request: { params: IdParam },
  responses: {
    200: jsonResponse(z.record(z.string(), z.unknown()).openapi('CustomerContext'), 'The context'),
    ...notFoundResponse,
  },
});

const CheckBody = z
  .strictObject({
    rule: RuleSchema,
    for: z.enum(RULE_SCOPES as [RuleScope, ...RuleScope[]]).default('segment'),
    event: z
      .string()
      .regex(/^[a-z][a-z0-9_.:-]{0,99}$/, 'an event type name')
      .optional(),
  })
  .openapi('RuleCheck');

const checkRoute = defineRoute({
  method: 'post',
  path: '/v1/rules/check',
  tags: ['rules'],
  summary: 'The warnings a rule would get on save, without saving it',
  description:
    'The rule is validated as on save (a 422 names what is wrong); `warnings` lists what cannot be meant: an unknown field, a value no customer has, a number compared with a string, a trigger filter reading a field its event does not carry.',
  roles: ACCESS.marketingRead,
  request: { body: jsonBody(CheckBody) },
  responses: {
    200: jsonResponse(
      z
        .object({ warnings: z.array(z.object({ path: z.string(), message: z.string() })) })
        .openapi('RuleWarnings'),
      'The warnings',
    ),
  },
});

export function registerRuleRoutes(app: App): void {
  app.openapi(checkRoute, async (c) => {
    const body = c.req.valid('json');
    assertValidRule(body.rule, 'rule');
    const { sql, clock } = c.var.deps;
    const warnings = await warnRules(sql, [{ rule: body.rule, path: 'rule' }], {
      scope: body.for,
      event: body.event,
      now: clock(),
    });
    return c.json({ warnings }, 200);
  });

  registerCustomerFields();

  app.openapi(fieldsRoute, async (c) => {
    const q = c.req.valid('query');
    const { sql, clock } = c.var.deps;
    const catalogue = await fieldCatalogue(sql, { scope: q.for, event: q.event, now: clock() });
    return c.json(catalogue, 200);
  });

  app.openapi(evaluateRoute, (c) => {
    const { rule, data } = c.req.valid('json');
    assertValidRule(rule, 'rule');
    try {
      return c.json({ result: evaluateRule(rule, data ?? null) ?? null }, 200);
    } catch (error) {
      if (!(error instanceof RuleError)) throw error;
      const detail = error.message === error.type ? error.type : `${error.type}: ${error.message}`;
      throw new AppError(
        422,
        'rule-error',
        `The rule raised an error: ${detail}`,
        [{ path: 'rule', message: detail }],
        { kind: error.type },
      );
    }
  });

  app.openapi(contextRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, clock } = c.var.deps;
    const context = await buildContext(sql, id, clock());
    if (!context) throw notFound('Customer');
    await audit(c, { action: 'customer.context', entity: 'customer', entity_id: id, customer_id: id });
    return c.json(context as unknown as Record<string, unknown>, 200);
  });
}
