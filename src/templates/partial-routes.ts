import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
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
import { selectPartial, selectPartials, selectPartialUses } from './partial-store.js';
import { createPartial, PARTIAL_NAME, partialView, updatePartial } from './partials.js';
import { MAX_MJML_CHARS } from './schema.js';

const tags = ['templates'];

const mjml = z.string().min(1).max(MAX_MJML_CHARS).openapi({
  description:
    'MJML sections (mj-section, mj-hero…), placed in a template as <mj-wrapper css-class="partial:NAME">',
  example:
    '<mj-section><mj-column><mj-text font-size="20px">Garden &amp; Co</mj-text></mj-column></mj-section>',
});
const description = z.string().max(2000).nullable();

const PartialCreate = z
  .strictObject({
    name: z
      .string()
      .regex(PARTIAL_NAME, 'lower-case letters, digits, - and _ (at most 64)')
      .openapi({ example: 'header' }),
    description: description.optional(),
    mjml,
  })
  .openapi('PartialInput');
const PartialPatch = z
  .strictObject({ description: description.optional(), mjml: mjml.optional() })
  .openapi('PartialPatch');

const PartialSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    version: z.number().int().openapi({ description: 'The latest version' }),
    mjml: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    used_by: z
      .array(
        z.object({
          template_id: z.number().int(),
          template_name: z.string(),
          template_version: z.number().int(),
          partial_version: z
            .number()
            .int()
            .openapi({ description: 'The version of this partial that template version was saved with' }),
        }),
      )
      .openapi({ description: 'Templates whose latest version places this partial' }),
  })
  .openapi('Partial');

export const PartialList = z
  .object({ data: z.array(PartialSchema.omit({ used_by: true })) })
  .openapi('PartialList');

const withUses = async (sql: Parameters<typeof selectPartialUses>[0], id: number) => {
  const row = await selectPartial(sql, id);
  if (!row) throw notFound(`partial ${id}`);
  return { ...partialView(row), used_by: await selectPartialUses(sql, id) };
};

export function registerPartialRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/partials',
      roles: ACCESS.marketing,
      tags,
      summary: 'Create a reusable block (partial), version 1',
      request: { body: jsonBody(PartialCreate) },
      responses: { 201: jsonResponse(PartialSchema, 'The partial'), ...conflictResponse },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const row = await c.var.deps.sql.begin(async (tx) => {
        const created = await createPartial(tx, body);
        await audit(c, { action: 'partial.create', entity: 'partial', entity_id: created.id }, tx);
        return created;
      });
      return c.json({ ...partialView(row), used_by: [] }, 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/partials',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'List the reusable blocks by name, with their latest MJML',
      responses: { 200: jsonResponse(PartialList, 'The partials') },
    }),
    async (c) => c.json({ data: (await selectPartials(c.var.deps.sql)).map(partialView) }, 200),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/partials/{id}',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'A reusable block with the templates that use it',
      request: { params: IdParam },
      responses: { 200: jsonResponse(PartialSchema, 'The partial'), ...notFoundResponse },
    }),
    async (c) => c.json(await withUses(c.var.deps.sql, c.req.valid('param').id), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/partials/{id}',
      roles: ACCESS.marketing,
      tags,
      summary:
        'Save a new version of a block; templates keep the version they were saved with until saved again',
      request: { params: IdParam, body: jsonBody(PartialPatch) },
      responses: { 200: jsonResponse(PartialSchema, 'The partial'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      await c.var.deps.sql.begin(async (tx) => {
        const row = await updatePartial(tx, id, body);
        const data = { fields: Object.keys(body), version: row.latest_version };
        await audit(c, { action: 'partial.update', entity: 'partial', entity_id: id, data }, tx);
      });
      return c.json(await withUses(c.var.deps.sql, id), 200);
    },
  );
}
