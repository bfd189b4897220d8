import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { slug, text } from '../http/fields.js';
import { invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { conflictResponse, defineRoute, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { type AttributeRow, declareAttribute, editAttribute, listAttributes } from './attributes.js';

const ATTRIBUTE_TYPES = ['string', 'number', 'boolean', 'date', 'string_array'] as const;

const AttributeInput = z
  .strictObject({
    key: z
      .string()
      .max(64)
      .regex(/^[a-z][a-z0-9_]*$/, 'must start with a-z and use only a-z, 0-9 and _')
      .openapi({ example: 'loyalty_tier' }),
    type: z.enum(ATTRIBUTE_TYPES),
    description: text(1000).optional(),
    sensitive: z
      .boolean()
      .default(false)
      .openapi({ description: 'A special category of personal data (health, political opinions…)' }),
    category: text(100).optional().openapi({ example: 'health' }),
    purpose: slug().optional().openapi({
      description: 'The consent purpose that allows using it (required when sensitive)',
      example: 'health_offers',
    }),
  })
  .openapi('AttributeInput');

const AttributeEditInput = z
  .strictObject({
    description: text(1000).nullable().optional(),
    category: text(100).nullable().optional(),
    sensitive: z.boolean().optional(),
    purpose: slug().nullable().optional().openapi({
      description: 'The consent purpose that allows using it; null: the category’s own purpose',
    }),
  })
  .openapi('AttributeEditInput');

const KeyParam = z.object({
  key: z
    .string()
    .max(64)
    .openapi({ param: { name: 'key', in: 'path' }, example: 'loyalty_tier' }),
});

export const AttributeSchema = z
  .object({
    key: z.string(),
    type: z.enum(ATTRIBUTE_TYPES),
    description: z.string().nullable(),
    sensitive: z.boolean(),
    category: z.string().nullable(),
    purpose: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Attribute');

const toAttribute = (row: AttributeRow) => ({ ...row, created_at: row.created_at.toISOString() });

const listRoute = defineRoute({
  method: 'get',
  path: '/v1/attributes',
  tags: ['attributes'],
  summary: 'The attribute registry: free customer attributes, their types and sensitivity',
  roles: ACCESS.customerRead,
  responses: { 200: jsonResponse(z.object({ data: z.array(AttributeSchema) }), 'Every declared attribute') },
});

const createRoute = defineRoute({
  method: 'post',
  path: '/v1/attributes',
  tags: ['attributes'],
  summary: 'Declare a free attribute',
  roles: ACCESS.admin,
  request: { body: jsonBody(AttributeInput) },
  responses: { 201: jsonResponse(AttributeSchema, 'Declared'), ...conflictResponse },
});

const editRoute = defineRoute({
  method: 'patch',
  path: '/v1/attributes/{key}',
  tags: ['attributes'],
  summary: 'Edit an attribute’s description and category, or mark it sensitive with its purpose',
  description:
    'The key and type never change. Marking an attribute sensitive (or changing its purpose) is refused with 422 while a live segment, offer or trigger reads it without declaring the purpose.',
  roles: ACCESS.admin,
  request: { params: KeyParam, body: jsonBody(AttributeEditInput) },
  responses: { 200: jsonResponse(AttributeSchema, 'Edited'), ...notFoundResponse },
});

export function registerAttributeRoutes(app: App): void {
  app.openapi(listRoute, async (c) => {
    const rows = await listAttributes(c.var.deps.sql);
    return c.json({ data: rows.map(toAttribute) }, 200);
  });

  app.openapi(createRoute, async (c) => {
    const input = c.req.valid('json');
    const row = await c.var.deps.sql.begin(async (tx) => {
      const declared = await declareAttribute(tx, {
        key: input.key,
        type: input.type,
        description: input.description ?? null,
        sensitive: input.sensitive,
        category: input.category ?? null,
        purpose: input.purpose ?? null,
      });
      await audit(
        c,
        { action: 'attribute.create', entity: 'attribute', entity_id: input.key, data: input },
        tx,
      );
      return declared;
    });
    return c.json(toAttribute(row), 201);
  });

  app.openapi(editRoute, async (c) => {
    const { key } = c.req.valid('param');
    const input = c.req.valid('json');
    if (Object.keys(input).length === 0)
      throw invalid([{ path: '', in: 'body', message: 'send at least one field to change' }]);
    const row = await c.var.deps.sql.begin(async (tx) => {
      const edited = await editAttribute(tx, key, input);
      if (!edited) throw notFound('Attribute');
      await audit(c, { action: 'attribute.update', entity: 'attribute', entity_id: key, data: input }, tx);
      return edited;
    });
    return c.json(toAttribute(row), 200);
  });
}
