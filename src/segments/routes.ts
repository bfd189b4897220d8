import { z } from '@hono/zod-openapi';
import type { Db } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { assertSensitiveUseDeclared } from '../privacy/guard.js';
import { assertValidRule } from '../rules/compile.js';
import { buildContexts } from '../rules/context.js';
import { explainMatch } from '../rules/explain.js';
import { RuleSchema } from '../rules/routes.js';
import { warnRules, withWarnings } from '../rules/warnings.js';
import { countAudience, evaluationOf, segmentAudiencePage } from './audience.js';
import {
  type CustomerSummaryRow,
  insertSegment,
  listSegmentRows,
  type SegmentRow,
  selectCustomerSummaries,
  selectSegment,
  softDeleteSegment,
  updateSegment,
} from './store.js';

const SAMPLE_SIZE = 10;

const name = z.string().trim().min(1).max(200).openapi({ example: 'Garden lovers' });
const description = z.string().max(2000).nullable().openapi({ example: 'Bought garden products lately' });

const SegmentInput = z
  .strictObject({ name, description: description.optional(), rule: RuleSchema })
  .openapi('SegmentInput');
const SegmentPatch = z
  .strictObject({ name: name.optional(), description: description.optional(), rule: RuleSchema.optional() })
  .openapi('SegmentPatch');

export const SegmentSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    rule: z.unknown(),
    version: z.number().int(),
    evaluation: z
      .enum(['sql', 'stream'])
      .openapi({ description: 'How the rule runs: one SQL query, or in process' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Segment');

const CustomerSummary = z
  .object({
    id: z.number().int(),
    external_id: z.string(),
    email: z.string().nullable(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    locale: z.string().nullable(),
  })
  .openapi('CustomerSummary');

const WarningsSchema = z.array(z.object({ path: z.string(), message: z.string() })).openapi({
  description:
    'What in the rule cannot be meant: an unknown field, a value no customer has, a number compared with a string (saved all the same); on a save, absent when nothing is',
});

const SavedSegment = SegmentSchema.extend({ warnings: WarningsSchema.optional() }).openapi('SavedSegment');

export const PreviewSchema = z
  .object({
    count: z.number().int(),
    sample: z.array(
      CustomerSummary.extend({
        why: z
          .array(z.string())
          .openapi({ description: 'The conditions that hold for this customer, with their values' }),
      }),
    ),
    evaluation: z.enum(['sql', 'stream']),
    warnings: WarningsSchema,
  })
  .openapi('SegmentPreview');

/** Warnings about a segment rule (rules/warnings.ts). */
const segmentWarnings = (deps: { sql: Db; clock: () => Date }, rule: unknown) =>
  warnRules(deps.sql, [{ rule, path: 'rule' }], { scope: 'segment', now: deps.clock() });

const toSegment = (row: SegmentRow, evaluation: 'sql' | 'stream') => ({
  id: row.id,
  name: row.name,
  description: row.description,
  rule: row.rule,
  version: row.version,
  evaluation,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

const toSummary = (row: CustomerSummaryRow) => ({ ...row });

const createRoute = defineRoute({
  method: 'post',
  path: '/v1/segments',
  tags: ['segments'],
  summary: 'Create a segment',
  roles: ACCESS.marketing,
  request: { body: jsonBody(SegmentInput) },
  responses: { 201: jsonResponse(SavedSegment, 'Created, with warnings about its rule') },
});
const listRoute = defineRoute({
  method: 'get',
  path: '/v1/segments',
  tags: ['segments'],
  summary: 'List segments (id order, cursor paged)',
  roles: ACCESS.marketingRead,
  request: { query: z.object(PageQuery) },
  responses: {
    200: jsonResponse(
      z.object({ data: z.array(SegmentSchema), next_cursor: z.string().nullable() }).openapi('SegmentPage'),
      'A page of segments',
    ),
  },
});
const getRoute = defineRoute({
  method: 'get',
  path: '/v1/segments/{id}',
  tags: ['segments'],
  summary: 'Read a segment',
  roles: ACCESS.marketingRead,
  request: { params: IdParam },
  responses: { 200: jsonResponse(SegmentSchema, 'The segment'), ...notFoundResponse },
});
const patchRoute = defineRoute({
  method: 'patch',
  path: '/v1/segments/{id}',
  tags: ['segments'],
  summary: 'Change a segment (a new rule bumps its version)',
  roles: ACCESS.marketing,
  request: { params: IdParam, body: jsonBody(SegmentPatch) },
  responses: {
    200: jsonResponse(SavedSegment, 'Updated, with warnings about its rule'),
    ...notFoundResponse,
  },
});
const deleteRoute = defineRoute({
  method: 'delete',
  path: '/v1/segments/{id}',
  tags: ['segments'],
  summary: 'Delete a segment',
  roles: ACCESS.marketing,
  request: { params: IdParam },
  responses: { 204: { description: 'Deleted' }, ...notFoundResponse },
});
const previewRoute = defineRoute({
  method: 'post',
  path: '/v1/segments/preview',
  tags: ['segments'],
  summary: 'Count the customers a rule selects, with a sample',
  description:
    '`evaluation` says whether the rule ran as one SQL query (`sql`) or customers were streamed and evaluated in process (`stream`); the result is the same.',
  roles: ACCESS.marketing,
  request: { body: jsonBody(z.strictObject({ rule: RuleSchema }).openapi('SegmentPreviewInput')) },
  responses: { 200: jsonResponse(PreviewSchema, 'Count and sample') },
});
const customersRoute = defineRoute({
  method: 'get',
  path: '/v1/segments/{id}/customers',
  tags: ['segments'],
  summary: 'The customers of a segment now (id order, cursor paged)',
  roles: ACCESS.marketing,
  request: { params: IdParam, query: z.object(PageQuery) },
  responses: {
    200: jsonResponse(
      z
        .object({ data: z.array(CustomerSummary), next_cursor: z.string().nullable() })
        .openapi('SegmentCustomerPage'),
      'A page of customers',
    ),
    ...notFoundResponse,
  },
});

const CursorShape = z.object({ id: z.number().int().nonnegative() });

export function registerSegmentRoutes(app: App): void {
  app.openapi(createRoute, async (c) => {
    const input = c.req.valid('json');
    assertValidRule(input.rule, 'rule');
    await assertSensitiveUseDeclared(c.var.deps.sql, [{ rule: input.rule, field: 'rule' }]);
    const { sql, clock } = c.var.deps;
    const row = await sql.begin(async (tx) => {
      const created = await insertSegment(tx, {
        name: input.name,
        description: input.description ?? null,
        rule: input.rule,
      });
      await audit(c, { action: 'segment.create', entity: 'segment', entity_id: created.id }, tx);
      return created;
    });
    const now = clock();
    const warnings = await segmentWarnings(c.var.deps, row.rule);
    return c.json(withWarnings(toSegment(row, evaluationOf(sql, row.rule, now)), warnings), 201);
  });

  app.openapi(listRoute, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor, CursorShape)?.id ?? 0;
    const { sql, clock } = c.var.deps;
    const now = clock();
    const rows = await listSegmentRows(sql, after, limit + 1);
    const result = page(rows, limit, (r) => ({ id: r.id }));
    return c.json(
      {
        data: result.data.map((r) => toSegment(r, evaluationOf(sql, r.rule, now))),
        next_cursor: result.next_cursor,
      },
      200,
    );
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, clock } = c.var.deps;
    const row = await selectSegment(sql, id);
    if (!row) throw notFound('Segment');
    const now = clock();
    return c.json(toSegment(row, evaluationOf(sql, row.rule, now)), 200);
  });

  app.openapi(patchRoute, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    if (input.name === undefined && input.description === undefined && input.rule === undefined) {
      throw invalid([{ path: '', in: 'body', message: 'send at least one field to change' }]);
    }
    if (input.rule !== undefined) assertValidRule(input.rule, 'rule');
    await assertSensitiveUseDeclared(c.var.deps.sql, [{ rule: input.rule, field: 'rule' }]);
    const { sql, clock } = c.var.deps;
    const row = await sql.begin(async (tx) => {
      const updated = await updateSegment(tx, id, input);
      if (!updated) throw notFound('Segment');
      await audit(
        c,
        { action: 'segment.update', entity: 'segment', entity_id: id, data: { fields: Object.keys(input) } },
        tx,
      );
      return updated;
    });
    const now = clock();
    const warnings = await segmentWarnings(c.var.deps, row.rule);
    return c.json(withWarnings(toSegment(row, evaluationOf(sql, row.rule, now)), warnings), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    await c.var.deps.sql.begin(async (tx) => {
      if (!(await softDeleteSegment(tx, id))) throw notFound('Segment');
      await audit(c, { action: 'segment.delete', entity: 'segment', entity_id: id }, tx);
    });
    return c.body(null, 204);
  });

  app.openapi(previewRoute, async (c) => {
    const { rule } = c.req.valid('json');
    assertValidRule(rule, 'rule');
    await assertSensitiveUseDeclared(c.var.deps.sql, [{ rule, field: 'rule' }]);
    const { sql, clock } = c.var.deps;
    const now = clock();
    const [{ count, evaluation }, sampleIds, warnings] = await Promise.all([
      countAudience(sql, rule, { now }),
      segmentAudiencePage(sql, rule, { limit: SAMPLE_SIZE, now }),
      segmentWarnings(c.var.deps, rule),
    ]);
    const [sample, contexts] = sampleIds.length
      ? await Promise.all([selectCustomerSummaries(sql, sampleIds), buildContexts(sql, sampleIds, now)])
      : [[], new Map()];
    await audit(c, { action: 'segment.preview', entity: 'segment', data: { count, sample: sampleIds } });
    const explained = sample.map((row) => ({
      ...toSummary(row),
      why: explainMatch(rule, contexts.get(row.id)),
    }));
    return c.json({ count, sample: explained, evaluation, warnings }, 200);
  });

  app.openapi(customersRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor, CursorShape)?.id ?? 0;
    const { sql, clock } = c.var.deps;
    const segment = await selectSegment(sql, id);
    if (!segment) throw notFound('Segment');
    const ids = await segmentAudiencePage(sql, segment.rule, {
      afterId: after,
      limit: limit + 1,
      now: clock(),
    });
    const rows = ids.length ? await selectCustomerSummaries(sql, ids) : [];
    const result = page(rows.map(toSummary), limit, (r) => ({ id: r.id }));
    await audit(c, { action: 'segment.customers', entity: 'segment', entity_id: id });
    return c.json({ data: result.data, next_cursor: result.next_cursor }, 200);
  });
}
