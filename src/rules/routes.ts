import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { AppError, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { assertValidRule, evaluateRule, RuleError } from './compile.js';
import { buildContext } from './context.js';

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

export function registerRuleRoutes(app: App): void {
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
