import { z } from '@hono/zod-openapi';
import type { Db } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { invalid } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse } from '../http/route.js';
import { ALL_CELLS, estimateOf, pooledOrderValue } from './learner.js';
import { learnedStatsRefreshedAt, learnedStatsRows, loadLearnedStats, resetLearned } from './ranker-store.js';
import { findOffer } from './store.js';

const tags = ['offers'];

const CellSchema = z.object({
  cell: z.string().openapi({ description: '`*`: all customers; else top category | recency band' }),
  impressions: z.number().int(),
  conversions: z.number().int(),
  revenue: z.number().openapi({ description: 'Revenue of those conversions, in the report currency' }),
  conversion_rate: z.number().openapi({ description: 'Posterior mean of conversions per impression' }),
  conversion_sd: z.number(),
  text: z.string().openapi({ example: 'conversion 3.2 % ± 0.8 %, 1,240 impressions' }),
});

const LearnedView = z
  .object({
    refreshed_at: z.string().nullable().openapi({
      description: 'When the ranker worker last recomputed the statistics from impressions and conversions',
    }),
    offers: z.array(z.object({ offer_id: z.number().int(), cells: z.array(CellSchema) })),
  })
  .openapi('RankerState');

const ResetBody = z
  .strictObject({
    offer_id: z
      .number()
      .int()
      .positive()
      .max(2 ** 53 - 1)
      .optional()
      .openapi({ description: 'Forget what was learned of this offer only; absent: of every offer' }),
  })
  .openapi('RankerReset');

async function learnedView(sql: Db) {
  const [rows, stats, refreshed] = await Promise.all([
    learnedStatsRows(sql),
    loadLearnedStats(sql),
    learnedStatsRefreshedAt(sql),
  ]);
  const pooled = pooledOrderValue(stats);
  const offers = new Map<number, z.infer<typeof CellSchema>[]>();
  for (const r of rows) {
    const cells = offers.get(r.offer_id) ?? [];
    const settings = { objective: 'conversion' as const, cells: r.cell !== ALL_CELLS, exploration: 0 };
    const e = estimateOf(stats, settings, r.offer_id, r.cell, 0, pooled);
    cells.push({
      cell: r.cell,
      impressions: r.impressions,
      conversions: r.conversions,
      revenue: r.revenue,
      conversion_rate: e.conversion_rate,
      conversion_sd: e.conversion_sd,
      text: e.text,
    });
    offers.set(r.offer_id, cells);
  }
  return {
    refreshed_at: refreshed?.toISOString() ?? null,
    offers: [...offers].map(([offer_id, cells]) => ({ offer_id, cells })),
  };
}

/** What the learning ranker knows (GET /v1/ranker) and its reset (POST /v1/ranker/reset). */
export function registerRankerRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/ranker',
      roles: ACCESS.marketingRead,
      tags,
      summary:
        'What the learning ranker has learned: impressions, conversions and the estimate per offer and cell',
      responses: { 200: jsonResponse(LearnedView, 'The learned statistics') },
    }),
    async (c) => c.json(await learnedView(c.var.deps.sql), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/ranker/reset',
      roles: ACCESS.marketing,
      tags,
      summary:
        'Forget what the learning ranker learned (of one offer, or all): only impressions from now on count',
      // No body (or `{}`) resets every offer.
      request: { body: { ...jsonBody(ResetBody), required: false } },
      responses: { 200: jsonResponse(LearnedView, 'The learned statistics after the reset') },
    }),
    async (c) => {
      const { sql, clock } = c.var.deps;
      const body = c.req.valid('json') ?? {};
      // An unknown offer is a bad field of the body, not a missing resource.
      if (body.offer_id !== undefined && !(await findOffer(sql, body.offer_id))) {
        throw invalid([{ path: 'offer_id', in: 'body', message: `no offer ${body.offer_id}` }]);
      }
      await resetLearned(sql, clock(), body.offer_id);
      await audit(c, {
        action: 'ranker.reset',
        entity: 'offer',
        entity_id: body.offer_id ?? null,
      });
      return c.json(await learnedView(sql), 200);
    },
  );
}
