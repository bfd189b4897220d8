import { randomUUID } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import type { Db } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { warnRules, withWarnings } from '../rules/warnings.js';
import { createOffer, deleteOffer, getOffer, offerToJson, patchOffer } from './catalogue.js';
import { decideOffers } from './decide.js';
import {
  DecisionRequest,
  DecisionResponse,
  OfferCreate,
  OfferList,
  OfferListQuery,
  OfferPatch,
  OfferSchema,
} from './schema.js';
import { listOffers, type OfferRow } from './store.js';

const tags = ['offers'];

const SavedOffer = OfferSchema.extend({
  warnings: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .openapi({
      description:
        'What in the eligibility or score rule cannot be meant (saved all the same); absent when nothing is',
    }),
}).openapi('SavedOffer');

/** Warnings about an offer's rules (rules/warnings.ts). */
const offerWarnings = (deps: { sql: Db; clock: () => Date }, row: OfferRow) =>
  warnRules(
    deps.sql,
    [
      { rule: row.eligibility, path: 'eligibility' },
      { rule: row.score, path: 'score' },
    ],
    { scope: 'offer', now: deps.clock() },
  );

const create = defineRoute({
  method: 'post',
  path: '/v1/offers',
  roles: ACCESS.marketing,
  tags,
  summary: 'Create an offer',
  request: { body: jsonBody(OfferCreate) },
  responses: { 201: jsonResponse(SavedOffer, 'The offer, with warnings about its rules') },
});

const list = defineRoute({
  method: 'get',
  path: '/v1/offers',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'List offers (id order, cursor paged)',
  request: { query: OfferListQuery },
  responses: { 200: jsonResponse(OfferList, 'A page of offers') },
});

const get = defineRoute({
  method: 'get',
  path: '/v1/offers/{id}',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'Read an offer',
  request: { params: IdParam },
  responses: { 200: jsonResponse(OfferSchema, 'The offer'), ...notFoundResponse },
});

const patch = defineRoute({
  method: 'patch',
  path: '/v1/offers/{id}',
  roles: ACCESS.marketing,
  tags,
  summary: 'Change an offer (absent fields unchanged, null clears); bumps its version',
  request: { params: IdParam, body: jsonBody(OfferPatch) },
  responses: {
    200: jsonResponse(SavedOffer, 'The offer, with warnings about its rules'),
    ...notFoundResponse,
  },
});

const remove = defineRoute({
  method: 'delete',
  path: '/v1/offers/{id}',
  roles: ACCESS.marketing,
  tags,
  summary: 'Delete an offer (it is no longer decided; its history stays)',
  request: { params: IdParam },
  responses: { 204: { description: 'Deleted' }, ...notFoundResponse },
});

const decide = defineRoute({
  method: 'post',
  path: '/v1/decisions',
  roles: ACCESS.decisions,
  tags,
  summary: 'Choose the next best offers for a customer; with explain, why the others were left out',
  request: { body: jsonBody(DecisionRequest) },
  responses: { 200: jsonResponse(DecisionResponse, 'The decision'), ...notFoundResponse },
});

const Cursor = z.object({ id: z.number().int().nonnegative() });

export function registerOfferRoutes(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const row = await c.var.deps.sql.begin(async (tx) => {
      const created = await createOffer(tx, body);
      await audit(c, { action: 'offer.create', entity: 'offer', entity_id: created.id }, tx);
      return created;
    });
    return c.json(
      withWarnings(offerToJson(row as OfferRow), await offerWarnings(c.var.deps, row as OfferRow)),
      201,
    );
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, Cursor);
    const rows = await listOffers(c.var.deps.sql, {
      afterId: after?.id ?? 0,
      limit: q.limit + 1,
      category: q.category,
    });
    const result = page(rows.map(offerToJson), q.limit, (o) => ({ id: o.id }));
    return c.json(result, 200);
  });

  app.openapi(get, async (c) => {
    const row = await getOffer(c.var.deps.sql, c.req.valid('param').id);
    return c.json(offerToJson(row), 200);
  });

  app.openapi(patch, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const row = await c.var.deps.sql.begin(async (tx) => {
      const updated = await patchOffer(tx, id, body);
      const fields = Object.keys(body);
      await audit(c, { action: 'offer.update', entity: 'offer', entity_id: id, data: { fields } }, tx);
      return updated;
    });
    return c.json(
      withWarnings(offerToJson(row as OfferRow), await offerWarnings(c.var.deps, row as OfferRow)),
      200,
    );
  });

  app.openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    await c.var.deps.sql.begin(async (tx) => {
      await deleteOffer(tx, id);
      await audit(c, { action: 'offer.delete', entity: 'offer', entity_id: id }, tx);
    });
    return c.body(null, 204);
  });

  app.openapi(decide, async (c) => {
    const body = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const decision = await decideOffers(sql, {
      customerId: body.customer_id,
      placements: body.placements,
      now: clock(),
      explain: body.explain,
      ...(body.ranker?.mode === 'learning'
        ? {
            learning: {
              settings: {
                objective: body.ranker.objective,
                cells: body.ranker.segment_cells,
                exploration: body.ranker.exploration,
              },
              // Unseeded, each request draws anew.
              seedKey: body.seed !== undefined ? `seed:${body.seed}` : `request:${randomUUID()}`,
            },
          }
        : {}),
    });
    if (!decision) throw notFound(`Customer ${body.customer_id}`);
    // A decision reads the customer's profile and purchases: audited like any read of personal data.
    await audit(c, {
      action: 'decision.create',
      entity: 'customer',
      entity_id: body.customer_id,
      customer_id: body.customer_id,
      data: { placements: body.placements, offer_ids: decision.offers.map((o) => o.offer_id) },
    });
    return c.json({ customer_id: body.customer_id, ...decision }, 200);
  });
}
