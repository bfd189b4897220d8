import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { resolveLocale } from '../templates/locale.js';
import {
  customerLocale,
  FEEDS,
  feedSettings,
  feedsStale,
  selectRecommendations,
  updateFeedSettings,
} from './recommend-store.js';
import { enqueueRefresh, refreshRecommendations } from './refresh.js';

const Recommendation = z
  .object({
    sku: z.string(),
    title: z.string(),
    price: z.number(),
    currency: z.string(),
    reason: z.string().openapi({ example: 'often bought with the Three-seat sofa you bought on 3 Mar 2025' }),
    feed: z.enum(FEEDS),
    rank: z.number().int(),
    score: z.number(),
    description: z.string().nullable(),
    category: z.string().nullable(),
    brand: z.string().nullable(),
    image_url: z.string().nullable(),
    url: z.string().nullable(),
  })
  .openapi('Recommendation');

export const RecommendationList = z.object({ data: z.array(Recommendation) });

const getRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/recommendations',
  tags: ['recommendations'],
  summary: 'Products recommended to a customer from one feed, best first, each with its reason',
  description:
    'Feeds: `bought_together` (co-purchases of what the customer bought, by lift), `top_in_category` (best sellers of their top categories), `replenish` (what they buy again, due now or soon), `new_arrivals` (new in their categories). Inactive and out-of-stock products never appear. Feeds are computed by the recommendations worker; a customer whose feeds are older than their last purchase is recomputed on the spot.',
  roles: ACCESS.customerRead,
  request: {
    params: IdParam,
    query: z.object({
      feed: z.enum(FEEDS).default('bought_together'),
      limit: z.coerce.number().int().min(1).max(100).default(10),
    }),
  },
  responses: {
    200: jsonResponse(RecommendationList, 'The recommended products'),
    ...notFoundResponse,
  },
});

const refreshRoute = defineRoute({
  method: 'post',
  path: '/v1/recommendations/refresh',
  tags: ['recommendations'],
  summary: 'Recompute recommendations: everyone (queued) or the customers named (at once)',
  roles: ACCESS.marketing,
  request: {
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z.object({
            customer_ids: z
              .array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER))
              .min(1)
              .max(1000)
              .optional(),
          }),
        },
      },
    },
  },
  responses: {
    202: jsonResponse(z.object({ queued: z.literal(true) }), 'A full refresh is queued'),
    200: jsonResponse(z.object({ rows: z.number().int() }), 'The customers’ feeds were recomputed'),
  },
});

const FeedSettingsSchema = z
  .object({
    feed: z.enum(FEEDS),
    exclude_bought: z.boolean(),
    window_days: z.number().int(),
    min_support: z.number().int(),
    size: z.number().int(),
  })
  .openapi('RecommendationFeed');

const listFeedsRoute = defineRoute({
  method: 'get',
  path: '/v1/recommendations/feeds',
  tags: ['recommendations'],
  summary: 'How each feed is computed',
  roles: ACCESS.marketingRead,
  responses: { 200: jsonResponse(z.object({ data: z.array(FeedSettingsSchema) }), 'Every feed') },
});

const patchFeedRoute = defineRoute({
  method: 'patch',
  path: '/v1/recommendations/feeds/{feed}',
  tags: ['recommendations'],
  summary: 'Change how a feed is computed (whether it leaves out what was bought, its window, support, size)',
  roles: ACCESS.marketing,
  request: {
    params: z.object({ feed: z.enum(FEEDS).openapi({ param: { name: 'feed', in: 'path' } }) }),
    body: jsonBody(
      z.strictObject({
        exclude_bought: z.boolean().optional(),
        window_days: z.number().int().min(1).max(3650).optional(),
        min_support: z.number().int().min(1).max(1_000_000).optional(),
        size: z.number().int().min(1).max(100).optional(),
      }),
    ),
  },
  responses: { 200: jsonResponse(FeedSettingsSchema, 'The feed’s settings') },
});

export function registerRecommendationRoutes(app: App): void {
  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { feed, limit } = c.req.valid('query');
    const { sql, clock } = c.var.deps;
    const customer = await customerLocale(sql, id);
    if (!customer) throw notFound('Customer');
    if (await feedsStale(sql, id)) await refreshRecommendations({ sql, clock }, { customerIds: [id] });
    const rows = await selectRecommendations(sql, {
      customerId: id,
      feed,
      limit,
      locale: resolveLocale(customer.locale),
    });
    await audit(c, { action: 'recommendations.read', entity: 'customer', entity_id: id, customer_id: id });
    return c.json({ data: rows }, 200);
  });

  app.openapi(refreshRoute, async (c) => {
    const parsed = (c.req.valid('json') ?? {}) as { customer_ids?: number[] };
    const { sql, clock, jobs } = c.var.deps;
    // Without a queue (the edge build) a full refresh runs here too.
    if (parsed.customer_ids || !jobs) {
      const result = await refreshRecommendations({ sql, clock }, { customerIds: parsed.customer_ids });
      return c.json({ rows: result.rows }, 200);
    }
    await enqueueRefresh(jobs);
    return c.json({ queued: true as const }, 202);
  });

  app.openapi(listFeedsRoute, async (c) => {
    const settings = await feedSettings(c.var.deps.sql);
    return c.json({ data: FEEDS.map((feed) => settings.get(feed)!) }, 200);
  });

  app.openapi(patchFeedRoute, async (c) => {
    const { feed } = c.req.valid('param');
    const row = await updateFeedSettings(c.var.deps.sql, feed, c.req.valid('json'));
    await audit(c, { action: 'recommendations.feed.update', entity: 'recommendation_feed', entity_id: feed });
    return c.json(row, 200);
  });
}
