import { z } from '@hono/zod-openapi';
import type { AppDeps } from '../deps.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { conflict, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import {
  conflictResponse,
  defineRoute,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundResponse,
} from '../http/route.js';
import { QUEUES } from '../queue/queues.js';
import { abSendOutJob, sendWinnerNow } from './ab-test.js';
import { forecastAudience } from './audience-forecast.js';
import { dispatchTransition } from './dispatch-transition.js';
import {
  campaignProgress,
  campaignView,
  cancelCampaign,
  createCampaign,
  deleteCampaign,
  launchCampaign,
  pauseCampaign,
  resumeCampaign,
  updateCampaign,
} from './lifecycle.js';
import { localeCoverageWarnings } from './locale-coverage.js';
import {
  CAMPAIGN_STATUSES,
  CampaignCreateSchema,
  CampaignPatchSchema,
  CampaignSchema,
  SendWinnerSchema,
} from './schema.js';
import { findCampaign, listCampaigns } from './store.js';

const tags = ['Campaigns'];

const Counted = z.array(z.object({ reason: z.string(), count: z.number().int() }));
export const AudienceForecastSchema = z
  .object({
    audience: z.number().int().openapi({ description: 'Customers of the segment now' }),
    mailable: z.number().int().openapi({ description: 'Of them, who would get the mail' }),
    suppressed: Counted.openapi({
      description:
        'Who would be suppressed, by reason (no_consent, unsubscribed, no_email, erased, hard_bounce, complaint…), most first',
    }),
    held_out: Counted.openapi({ description: 'Who would be held out: control_group, holdout' }),
    scanned: z.number().int().openapi({
      description: 'Customers of the segment the forecast read (those of the sample when estimated)',
    }),
    estimated: z.boolean().openapi({
      description:
        'True when there are more live customers than the forecast reads (1,000): it reads a random sample of them, the same on every read, and scales the counts',
    }),
  })
  .openapi('AudienceForecast');
export const CampaignList = z
  .object({ data: z.array(CampaignSchema), next_cursor: z.string().nullable() })
  .openapi('CampaignList');

const transitions = {
  launch: {
    run: (deps: AppDeps, id: number) => launchCampaign(deps.sql, id, deps.clock()),
    summary: 'Launch a draft: pin the template version, plan the audience and send (now or at schedule_at)',
  },
  pause: { run: (deps: AppDeps, id: number) => pauseCampaign(deps.sql, id), summary: 'Pause sending' },
  resume: {
    run: (deps: AppDeps, id: number) => resumeCampaign(deps.sql, id, deps.clock()),
    summary: 'Resume a paused campaign',
  },
  cancel: {
    run: (deps: AppDeps, id: number) => cancelCampaign(deps.sql, id, deps.clock()),
    summary: 'Cancel: messages not sent yet are never sent',
  },
} as const;

/** The campaign's view with the languages of its audience that its wording misses (see locale-coverage.ts). */
async function withLocaleWarnings(deps: AppDeps, row: Parameters<typeof campaignView>[0]) {
  const warnings = await localeCoverageWarnings(deps.sql, row, deps.clock());
  return { ...campaignView(row), ...(warnings.length > 0 ? { warnings } : {}) };
}

export function registerCampaignRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/campaigns',
      roles: ACCESS.marketing,
      tags,
      summary: 'Create a draft campaign',
      request: { body: jsonBody(CampaignCreateSchema) },
      responses: { 201: jsonResponse(CampaignSchema, 'The draft') },
    }),
    async (c) => {
      const row = await createCampaign(c.var.deps.sql, c.req.valid('json'));
      return c.json(await withLocaleWarnings(c.var.deps, row), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/campaigns',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'List campaigns, newest first',
      request: {
        query: z.object({ ...PageQuery, status: z.enum(CAMPAIGN_STATUSES).optional() }),
      },
      responses: { 200: jsonResponse(CampaignList, 'A page of campaigns') },
    }),
    async (c) => {
      const { limit, cursor, status } = c.req.valid('query');
      const position = decodeCursor(cursor, z.object({ id: z.number().int().positive() }));
      const rows = await listCampaigns(c.var.deps.sql, {
        limit,
        ...(position ? { beforeId: position.id } : {}),
        ...(status ? { status } : {}),
      });
      const result = page(rows, limit, (r) => ({ id: r.id }));
      return c.json({ data: result.data.map(campaignView), next_cursor: result.next_cursor }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/campaigns/{id}',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'A campaign with its progress: messages by status and the send rate',
      request: { params: IdParam },
      responses: { 200: jsonResponse(CampaignSchema, 'The campaign'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await findCampaign(c.var.deps.sql, id);
      if (!row) throw notFound(`Campaign ${id}`);
      return c.json({ ...campaignView(row), progress: await campaignProgress(c.var.deps.sql, row) }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/campaigns/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Edit a draft campaign (only its ab_test while scheduled)',
      request: { params: IdParam, body: jsonBody(CampaignPatchSchema) },
      responses: {
        200: jsonResponse(CampaignSchema, 'The campaign'),
        ...notFoundResponse,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const row = await updateCampaign(c.var.deps.sql, c.req.valid('param').id, c.req.valid('json'));
      return c.json(await withLocaleWarnings(c.var.deps, row), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/campaigns/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Delete a campaign that is not in flight',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...notFoundResponse, ...conflictResponse },
    }),
    async (c) => {
      await deleteCampaign(c.var.deps.sql, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/campaigns/{id}/send-winner',
      roles: ACCESS.marketing,
      tags,
      summary: 'End an A/B test’s window now: send the winner (or the given variant) to the rest',
      description:
        'Chooses the winner as the window’s end would (or takes `variant`), records it with the reason, and sends it to the held rest of the audience (when the campaign resumes, if paused). 409 unless the test cell is planned and no winner was chosen yet.',
      request: {
        params: IdParam,
        body: { ...jsonBody(SendWinnerSchema), required: false },
      },
      responses: {
        200: jsonResponse(CampaignSchema, 'The campaign with the winner chosen'),
        ...notFoundResponse,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const deps = c.var.deps;
      const { variant } = c.req.valid('json');
      const row = await sendWinnerNow(deps.sql, c.req.valid('param').id, { now: deps.clock(), variant });
      if (deps.jobs && row.status === 'sending')
        await deps.jobs.enqueue(QUEUES.planner, [abSendOutJob(row.id)]);
      return c.json(campaignView(row), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/campaigns/{id}/audience',
      roles: ACCESS.marketingRead,
      tags,
      summary:
        'What a launch now would do: the audience, who would be mailed, suppressed (and why) or held out',
      description:
        'Reads the segment and runs the planner’s recipients step without writing anything. 409 when the campaign has no live segment.',
      request: { params: IdParam },
      responses: {
        200: jsonResponse(AudienceForecastSchema, 'The forecast'),
        ...notFoundResponse,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const deps = c.var.deps;
      const row = await findCampaign(deps.sql, c.req.valid('param').id);
      if (!row) throw notFound('Campaign');
      const forecast = await forecastAudience(deps, row, { now: deps.clock() });
      if (!forecast) throw conflict('The campaign has no segment to forecast', 'no-segment');
      return c.json(forecast, 200);
    },
  );

  for (const [action, t] of Object.entries(transitions)) {
    app.openapi(
      defineRoute({
        method: 'post',
        path: `/v1/campaigns/{id}/${action}`,
        roles: ACCESS.marketing,
        tags,
        summary: t.summary,
        request: { params: IdParam },
        responses: {
          200: jsonResponse(CampaignSchema, 'The campaign after the change'),
          ...notFoundResponse,
          ...conflictResponse,
        },
      }),
      async (c) => {
        const result = await t.run(c.var.deps, c.req.valid('param').id);
        await dispatchTransition(c.var.deps, result);
        const view =
          action === 'launch'
            ? await withLocaleWarnings(c.var.deps, result.campaign)
            : campaignView(result.campaign);
        return c.json(view, 200);
      },
    );
  }
}
