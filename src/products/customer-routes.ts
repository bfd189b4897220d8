import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonResponse, notFoundResponse } from '../http/route.js';
import { FEEDS } from './recommend-store.js';
import { productBuyers, productBySku, productRecommendedTo } from './store.js';

// The people side of a product (its page in the UI): who bought it and to whom it is
// recommended. Personal data, so customer-read roles only, and each read is audited.

const SkuParam = z.object({
  sku: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'sku', in: 'path' }, example: 'SOFA-3P-GREY' }),
});
const LimitQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });

const Person = {
  customer_id: z.number().int(),
  external_id: z.string().nullable(),
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  email: z.string().nullable(),
};

export const ProductBuyers = z
  .object({
    data: z.array(
      z.object({
        ...Person,
        lines: z.number().int(),
        quantity: z.number(),
        last_bought_at: z.string(),
      }),
    ),
  })
  .openapi('ProductBuyers');

export const ProductRecommendedTo = z
  .object({
    data: z.array(
      z.object({
        ...Person,
        feed: z.enum(FEEDS),
        rank: z.number().int(),
        reason: z.string(),
        computed_at: z.string(),
      }),
    ),
  })
  .openapi('ProductRecommendedTo');

const buyersRoute = defineRoute({
  method: 'get',
  path: '/v1/products/{sku}/buyers',
  tags: ['products'],
  summary: 'Who bought a product, latest buyer first',
  roles: ACCESS.customerRead,
  request: { params: SkuParam, query: LimitQuery },
  responses: { 200: jsonResponse(ProductBuyers, 'The buyers'), ...notFoundResponse },
});

const recommendedToRoute = defineRoute({
  method: 'get',
  path: '/v1/products/{sku}/recommended-to',
  tags: ['products'],
  summary: 'The customers a product is recommended to (their stored feeds), best rank first, with why',
  roles: ACCESS.customerRead,
  request: { params: SkuParam, query: LimitQuery },
  responses: { 200: jsonResponse(ProductRecommendedTo, 'The customers'), ...notFoundResponse },
});

export function registerProductCustomerRoutes(app: App): void {
  app.openapi(buyersRoute, async (c) => {
    const { sku } = c.req.valid('param');
    const { limit } = c.req.valid('query');
    const { sql } = c.var.deps;
    if (!(await productBySku(sql, sku))) throw notFound('Product');
    const rows = await productBuyers(sql, sku, limit);
    await audit(c, {
      action: 'product.buyers.read',
      entity: 'product',
      entity_id: sku,
      data: { count: rows.length, customer_ids: rows.map((r) => r.customer_id) },
    });
    return c.json({ data: rows.map((r) => ({ ...r, last_bought_at: r.last_bought_at.toISOString() })) }, 200);
  });

  app.openapi(recommendedToRoute, async (c) => {
    const { sku } = c.req.valid('param');
    const { limit } = c.req.valid('query');
    const { sql } = c.var.deps;
    if (!(await productBySku(sql, sku))) throw notFound('Product');
    const rows = await productRecommendedTo(sql, sku, limit);
    await audit(c, {
      action: 'product.recommended_to.read',
      entity: 'product',
      entity_id: sku,
      data: { count: rows.length, customer_ids: rows.map((r) => r.customer_id) },
    });
    return c.json(
      {
        data: rows.map((r) => ({
          ...r,
          feed: r.feed as (typeof FEEDS)[number],
          computed_at: r.computed_at.toISOString(),
        })),
      },
      200,
    );
  });
}
