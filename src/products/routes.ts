import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import { readBatchBody } from '../http/batch-body.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonResponse, notFoundResponse } from '../http/route.js';
import { recordProducts } from './record.js';
import { ProductInputDoc, ProductSchema } from './schema.js';
import { type ProductRow, productBySku, productStats, selectProducts } from './store.js';

export const MAX_PRODUCTS = 10_000;

const RecordResult = z
  .object({
    data: z.array(
      z.object({
        index: z.number().int(),
        id: z.number().int(),
        sku: z.string(),
        status: z.enum(['created', 'updated', 'unchanged']),
      }),
    ),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
  })
  .openapi('ProductRecordResult');

const postRoute = defineRoute({
  method: 'post',
  path: '/v1/products',
  tags: ['products'],
  summary: 'Store products (one object, or an array of up to 10,000), idempotent on sku',
  description:
    'A sku already stored is replaced (`updated`) or, when every field is the same, left alone (`unchanged`). Fields not named in the schema are kept as free attributes. Validated as a whole: any bad row → 422 naming each field by index, nothing written. NDJSON is accepted too.',
  roles: ACCESS.integration,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: {
            oneOf: [
              { $ref: '#/components/schemas/ProductInput' },
              { type: 'array', maxItems: MAX_PRODUCTS, items: { $ref: '#/components/schemas/ProductInput' } },
            ],
          },
        },
      },
    },
  },
  responses: {
    201: jsonResponse(RecordResult, 'At least one product was new'),
    200: jsonResponse(RecordResult, 'Every product was already stored'),
  },
});

const yesNo = z.enum(['true', 'false']).transform((v) => v === 'true');

const ListQuery = z.object({
  ...PageQuery,
  category: z.string().max(100).optional(),
  brand: z.string().max(200).optional(),
  active: yesNo.optional(),
  in_stock: yesNo.optional(),
  sku: z.string().max(5000).optional().openapi({ description: 'Comma-separated skus' }),
  q: z.string().max(200).optional().openapi({ description: 'Part of the sku or title' }),
  min_price: z.coerce.number().min(0).optional(),
  max_price: z.coerce.number().min(0).optional(),
});

export const ProductPage = z
  .object({ data: z.array(ProductSchema), next_cursor: z.string().nullable() })
  .openapi('ProductPage');

const listRoute = defineRoute({
  method: 'get',
  path: '/v1/products',
  tags: ['products'],
  summary: 'Products, filtered (category, brand, active, in_stock, sku, q, price range)',
  roles: ACCESS.marketingRead,
  request: { query: ListQuery },
  responses: { 200: jsonResponse(ProductPage, 'A page of products') },
});

const SkuParam = z.object({
  sku: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'sku', in: 'path' }, example: 'SOFA-3P-GREY' }),
});

export const ProductDetail = ProductSchema.extend({
  buyers: z.object({ customers: z.number().int(), lines: z.number().int() }),
  bought_together: z.array(z.object({ sku: z.string(), support: z.number().int(), lift: z.number() })),
}).openapi('ProductDetail');

const getRoute = defineRoute({
  method: 'get',
  path: '/v1/products/{sku}',
  tags: ['products'],
  summary: 'One product, with how many bought it and what is bought with it',
  roles: ACCESS.marketingRead,
  request: { params: SkuParam },
  responses: { 200: jsonResponse(ProductDetail, 'The product'), ...notFoundResponse },
});

export const toProduct = (row: ProductRow) => ({
  id: row.id,
  sku: row.sku,
  title: row.title,
  description: row.description,
  price: row.price,
  currency: row.currency,
  category: row.category,
  brand: row.brand,
  image_url: row.image_url,
  url: row.url,
  in_stock: row.in_stock,
  stock: row.stock,
  margin: row.margin,
  active: row.active,
  attributes: row.attributes,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

export function registerProductRoutes(app: App): void {
  app.openAPIRegistry.register('ProductInput', ProductInputDoc);
  app.openapi(postRoute, async (c) => {
    const values = await readBatchBody(c, { max: MAX_PRODUCTS, single: (value) => [value] });
    const { sql } = c.var.deps;
    const data = await sql.begin(async (tx) => {
      const results = await recordProducts(tx, values);
      const changed = results.filter((r) => r.status !== 'unchanged');
      if (changed.length > 0) {
        await audit(
          c,
          { action: 'product.upsert', entity: 'product', data: { changed: changed.length } },
          tx,
        );
      }
      return results;
    });
    const count = (status: string) => data.filter((r) => r.status === status).length;
    const created = count('created');
    return c.json(
      { data, created, updated: count('updated'), unchanged: count('unchanged') },
      created > 0 ? 201 : 200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const cursor = decodeCursor(query.cursor, z.object({ id: z.number().int().positive() }));
    const skus = query.sku
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const rows = await selectProducts(c.var.deps.sql, {
      category: query.category,
      brand: query.brand,
      active: query.active,
      in_stock: query.in_stock,
      skus,
      q: query.q,
      min_price: query.min_price,
      max_price: query.max_price,
      limit: query.limit,
      after: cursor?.id,
    });
    const result = page(rows, query.limit, (row) => ({ id: row.id }));
    return c.json({ data: result.data.map(toProduct), next_cursor: result.next_cursor }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { sku } = c.req.valid('param');
    const { sql } = c.var.deps;
    const row = await productBySku(sql, sku);
    if (!row) throw notFound('Product');
    const stats = await productStats(sql, sku);
    return c.json({ ...toProduct(row), buyers: stats.buyers, bought_together: stats.together }, 200);
  });
}
