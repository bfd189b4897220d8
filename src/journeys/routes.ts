import { z } from '@hono/zod-openapi';
import { selectCustomer } from '../customers/store.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import {
  conflictResponse,
  defineRoute,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundResponse,
} from '../http/route.js';
import { customerEntries } from './entry-store.js';
import { enqueueSegmentEntry } from './jobs.js';
import { createJourney, deleteJourney, journeyView, transitionJourney, updateJourney } from './manage.js';
import { previewJourney } from './preview.js';
import { reconcileJourneys } from './reconcile.js';
import { journeyReport } from './report.js';
import {
  JOURNEY_STATUSES,
  JourneyCreateSchema,
  JourneyPatchSchema,
  JourneySchema,
  PreviewInputSchema,
} from './schema.js';
import { findJourney, journeyVersions, listJourneys } from './store.js';

const tags = ['Journeys'];

export const JourneyList = z
  .object({ data: z.array(JourneySchema), next_cursor: z.string().nullable() })
  .openapi('JourneyList');

const StepReportSchema = z.object({
  type: z.string(),
  entered: z.number().int(),
  waiting: z.number().int(),
  outcomes: z.record(z.string(), z.number().int()),
  sent: z.number().int(),
  opened: z.number().int(),
  clicked: z.number().int(),
  exited: z.number().int(),
  goal_reached: z.number().int(),
  revenue: z.number(),
});

export const ReportSchema = z
  .object({
    journey_id: z.number().int(),
    version: z.number().int().nullable(),
    entered: z.number().int(),
    active: z.number().int(),
    completed: z.number().int(),
    exited: z.number().int(),
    goal_reached: z.number().int(),
    conversions: z.number().int(),
    revenue: z.number(),
    steps: z.record(z.string(), StepReportSchema).openapi({ description: 'Keyed by step id' }),
  })
  .openapi('JourneyReport');

const PreviewSchema = z
  .object({
    would_enter: z.boolean(),
    reasons: z.array(z.string()),
    path: z.array(
      z.object({
        step: z.string(),
        type: z.string(),
        outcome: z.string(),
        why: z.string(),
        until: z.string().optional(),
      }),
    ),
    ends: z.enum(['exit', 'loop']),
  })
  .openapi('JourneyPreview');

const CustomerJourneySchema = z.object({
  entry_id: z.number().int(),
  journey_id: z.number().int(),
  journey_name: z.string(),
  version: z.number().int(),
  status: z.string(),
  exit_reason: z.string().nullable(),
  step: z.string().nullable(),
  since: z.string(),
  next_run_at: z.string().nullable().openapi({ description: 'When their current step is due' }),
  waiting_for: z.string().nullable(),
  entered_at: z.string(),
  exited_at: z.string().nullable(),
});
const CustomerJourneys = z.object({ data: z.array(CustomerJourneySchema) }).openapi('CustomerJourneys');

const ACTIONS = [
  ['activate', 'Activate a draft: its templates are pinned and customers start entering'],
  ['pause', 'Pause: everyone stays where they are and nobody enters'],
  ['resume', 'Resume a paused journey: due steps run again'],
  ['archive', 'Archive: nobody enters and everyone inside leaves'],
] as const;

export function registerJourneyRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/journeys',
      roles: ACCESS.marketing,
      tags,
      summary: 'Create a journey (a draft): entry, re-entry, goal and steps, validated whole',
      request: { body: jsonBody(JourneyCreateSchema) },
      responses: { 201: jsonResponse(JourneySchema, 'The journey') },
    }),
    async (c) => c.json(journeyView(await createJourney(c.var.deps.sql, c.req.valid('json'))), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/journeys',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'List journeys, newest first',
      request: { query: z.object({ ...PageQuery, status: z.enum(JOURNEY_STATUSES).optional() }) },
      responses: { 200: jsonResponse(JourneyList, 'A page of journeys') },
    }),
    async (c) => {
      const { limit, cursor, status } = c.req.valid('query');
      const position = decodeCursor(cursor, z.object({ id: z.number().int().positive() }));
      const rows = await listJourneys(c.var.deps.sql, {
        limit,
        ...(position ? { beforeId: position.id } : {}),
        status,
      });
      const result = page(rows, limit, (r) => ({ id: r.id }));
      return c.json({ data: result.data.map(journeyView), next_cursor: result.next_cursor }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/journeys/{id}',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'A journey: its current version',
      request: { params: IdParam },
      responses: { 200: jsonResponse(JourneySchema, 'The journey'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await findJourney(c.var.deps.sql, id);
      if (!row) throw notFound(`Journey ${id}`);
      return c.json(journeyView(row), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/journeys/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Edit a journey; once activated, a changed definition is a new version',
      description:
        'Customers already inside finish on the version they entered; new entries take the new one. The definition after the patch is validated whole.',
      request: { params: IdParam, body: jsonBody(JourneyPatchSchema) },
      responses: {
        200: jsonResponse(JourneySchema, 'The journey'),
        ...notFoundResponse,
        ...conflictResponse,
      },
    }),
    async (c) =>
      c.json(
        journeyView(await updateJourney(c.var.deps.sql, c.req.valid('param').id, c.req.valid('json'))),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/journeys/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Delete a journey; everyone inside leaves (its history and report stay)',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...notFoundResponse },
    }),
    async (c) => {
      await deleteJourney(c.var.deps.sql, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  for (const [action, summary] of ACTIONS) {
    app.openapi(
      defineRoute({
        method: 'post',
        path: `/v1/journeys/{id}/${action}`,
        roles: ACCESS.marketing,
        tags,
        summary,
        request: { params: IdParam },
        responses: {
          200: jsonResponse(JourneySchema, 'The journey'),
          ...notFoundResponse,
          ...conflictResponse,
        },
      }),
      async (c) => {
        const deps = c.var.deps;
        const row = await transitionJourney(deps.sql, c.req.valid('param').id, action);
        if (action === 'activate' && 'segment_id' in row.definition.entry)
          await enqueueSegmentEntry(deps.jobs, { journey_id: row.id, version_id: row.version_id });
        // Resumed: the due steps held during the pause go back to the queue (same job ids).
        if (action === 'resume' && deps.jobs)
          await reconcileJourneys(
            { sql: deps.sql, jobs: deps.jobs, clock: deps.clock },
            { journeyId: row.id },
          );
        return c.json(journeyView(row), 200);
      },
    );
  }

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/journeys/{id}/report',
      roles: ACCESS.reports,
      tags,
      summary: 'Per-step report keyed by step id: entered, waiting, outcomes, mail, exits, goal, revenue',
      request: {
        params: IdParam,
        query: z.object({
          version: z.coerce.number().int().positive().optional().openapi({ description: 'One version only' }),
        }),
      },
      responses: { 200: jsonResponse(ReportSchema, 'The report'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('query');
      const sql = c.var.deps.sql;
      const row = await findJourney(sql, id);
      if (!row) throw notFound(`Journey ${id}`);
      const versions = await journeyVersions(sql, id);
      const chosen = version === undefined ? null : versions.find((v) => v.version === version);
      if (chosen === undefined) throw notFound(`Version ${version} of journey ${id}`);
      const report = await journeyReport(
        sql,
        { id, definitions: (chosen ? [chosen] : versions).map((v) => v.definition) },
        chosen,
      );
      return c.json(report, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/journeys/{id}/preview',
      roles: ACCESS.marketing,
      tags,
      summary: 'The path a customer would take now and why, without writing anything',
      request: { params: IdParam, body: jsonBody(PreviewInputSchema) },
      responses: { 200: jsonResponse(PreviewSchema, 'The dry run'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await findJourney(c.var.deps.sql, id);
      if (!row) throw notFound(`Journey ${id}`);
      const input = c.req.valid('json');
      const result = await previewJourney(c.var.deps, row, input);
      // The dry run reads the customer's profile, consents and history: a read of personal data.
      await audit(c, {
        action: 'journey.preview',
        entity: 'journey',
        entity_id: id,
        customer_id: input.customer_id,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/customers/{id}/journeys',
      roles: ACCESS.customerRead,
      tags,
      summary: 'The customer’s journeys: where they are, and when their next step is due',
      request: { params: IdParam },
      responses: { 200: jsonResponse(CustomerJourneys, 'Their entries, newest first'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const sql = c.var.deps.sql;
      if (!(await selectCustomer(sql, id))) throw notFound(`Customer ${id}`);
      const rows = await customerEntries(sql, id);
      return c.json(
        {
          data: rows.map((e) => ({
            entry_id: e.id,
            journey_id: e.journey_id,
            journey_name: e.journey_name,
            version: e.version,
            status: e.status,
            exit_reason: e.exit_reason,
            step: e.step,
            since: e.since.toISOString(),
            next_run_at: e.next_run_at?.toISOString() ?? null,
            waiting_for: e.waiting_for,
            entered_at: e.entered_at.toISOString(),
            exited_at: e.exited_at?.toISOString() ?? null,
          })),
        },
        200,
      );
    },
  );
}
