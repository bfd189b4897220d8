import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { ACCESS } from '../http/roles.js';
import {
  conflictResponse,
  defineRoute,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundResponse,
} from '../http/route.js';
import { installDefaultTemplates, readDefaultTemplates } from './defaults.js';
import { selectTemplatePins } from './partial-store.js';
import { previewTemplate } from './preview.js';
import {
  PreviewBody,
  Rendered,
  TemplateCreate,
  TemplateList,
  TemplatePatch,
  TemplateSchema,
  TestSendBody,
  TestSendResult,
  VersionParams,
  VersionSchema,
} from './schema.js';
import {
  createTemplate,
  getTemplate,
  getVersion,
  listTemplates,
  templateView,
  updateTemplate,
  versionView,
} from './service.js';
import { testSendTemplate } from './test-send.js';

const tags = ['templates'];

const create = defineRoute({
  method: 'post',
  path: '/v1/templates',
  roles: ACCESS.marketing,
  tags,
  summary: 'Create a template (version 1); MJML and Handlebars errors are 422 with line and column',
  request: { body: jsonBody(TemplateCreate) },
  responses: { 201: jsonResponse(TemplateSchema, 'The template'), ...conflictResponse },
});

const list = defineRoute({
  method: 'get',
  path: '/v1/templates',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'List templates (id order, cursor paged)',
  request: { query: z.object(PageQuery) },
  responses: { 200: jsonResponse(TemplateList, 'A page of templates') },
});

const get = defineRoute({
  method: 'get',
  path: '/v1/templates/{id}',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'Read a template with its latest version',
  request: { params: IdParam },
  responses: { 200: jsonResponse(TemplateSchema, 'The template'), ...notFoundResponse },
});

const patch = defineRoute({
  method: 'patch',
  path: '/v1/templates/{id}',
  roles: ACCESS.marketing,
  tags,
  summary: 'Rename a template; changing subject, preheader or mjml saves a new version',
  request: { params: IdParam, body: jsonBody(TemplatePatch) },
  responses: { 200: jsonResponse(TemplateSchema, 'The template'), ...notFoundResponse, ...conflictResponse },
});

const version = defineRoute({
  method: 'get',
  path: '/v1/templates/{id}/versions/{version}',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'Read one immutable version, with its compiled HTML',
  request: { params: VersionParams },
  responses: { 200: jsonResponse(VersionSchema, 'The version'), ...notFoundResponse },
});

const preview = defineRoute({
  method: 'post',
  path: '/v1/templates/{id}/preview',
  roles: ACCESS.marketing,
  tags,
  summary: 'Render a template for a customer (their profile and offers) or for given data',
  request: { params: IdParam, body: jsonBody(PreviewBody) },
  responses: { 200: jsonResponse(Rendered, 'The rendered email'), ...notFoundResponse },
});

const testSend = defineRoute({
  method: 'post',
  path: '/v1/templates/{id}/test-send',
  roles: ACCESS.marketing,
  tags,
  summary: 'Render like a preview and send it to one address over SMTP',
  request: { params: IdParam, body: jsonBody(TestSendBody) },
  responses: { 200: jsonResponse(TestSendResult, 'What the SMTP server accepted'), ...notFoundResponse },
});

export const DefaultsResult = z
  .object({
    created: z.array(z.string()).openapi({ description: 'The shipped templates added now, by name' }),
    existing: z.array(z.string()).openapi({ description: 'Those already there (kept as they are)' }),
  })
  .openapi('DefaultTemplatesResult');

const defaults = defineRoute({
  method: 'post',
  path: '/v1/templates/defaults',
  roles: ACCESS.marketing,
  tags,
  summary:
    'Add the shipped templates (welcome, offers digest, post-purchase, win-back, birthday) that are missing',
  description:
    'Each is created as version 1 unless a template of its name exists, edited or not; run it again and nothing changes. A fresh install has no template until this (or the demo) runs.',
  responses: { 200: jsonResponse(DefaultsResult, 'What was added and what was there') },
});

const Cursor = z.object({ id: z.number().int().nonnegative() });

export function registerTemplateRoutes(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const row = await c.var.deps.sql.begin(async (tx) => {
      const created = await createTemplate(tx, { ...body, preheader: body.preheader ?? null });
      await audit(c, { action: 'template.create', entity: 'template', entity_id: created.id }, tx);
      return created;
    });
    return c.json(templateView(row), 201);
  });

  app.openapi(defaults, async (c) => {
    const names = (await readDefaultTemplates()).map((d) => d.name);
    const created = await installDefaultTemplates(c.var.deps.sql);
    if (created.length > 0)
      await audit(c, { action: 'template.defaults', entity: 'template', data: { created } });
    return c.json({ created, existing: names.filter((n) => !created.includes(n)) }, 200);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, Cursor);
    const rows = await listTemplates(c.var.deps.sql, after?.id ?? 0, q.limit);
    const summaries = rows.map((r) => {
      const { mjml: _mjml, ...summary } = templateView({ ...r, mjml: '' });
      return summary;
    });
    return c.json(
      page(summaries, q.limit, (t) => ({ id: t.id })),
      200,
    );
  });

  app.openapi(get, async (c) => {
    return c.json(templateView(await getTemplate(c.var.deps.sql, c.req.valid('param').id)), 200);
  });

  app.openapi(patch, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const row = await c.var.deps.sql.begin(async (tx) => {
      const updated = await updateTemplate(tx, id, body);
      const data = { fields: Object.keys(body), version: updated.latest_version };
      await audit(c, { action: 'template.update', entity: 'template', entity_id: id, data }, tx);
      return updated;
    });
    return c.json(templateView(row), 200);
  });

  app.openapi(version, async (c) => {
    const { id, version: n } = c.req.valid('param');
    const { sql } = c.var.deps;
    const row = await getVersion(sql, id, n);
    return c.json({ ...versionView(row), partials: await selectTemplatePins(sql, id, n) }, 200);
  });

  app.openapi(preview, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const rendered = await previewTemplate(c.var.deps, id, body);
    if (body.customer_id !== undefined)
      await audit(c, {
        action: 'customer.read',
        entity: 'template',
        entity_id: id,
        customer_id: body.customer_id,
      });
    return c.json(rendered, 200);
  });

  app.openapi(testSend, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await testSendTemplate(c.var.deps, id, body);
    await audit(c, {
      action: 'template.test_send',
      entity: 'template',
      entity_id: id,
      ...(body.customer_id !== undefined ? { customer_id: body.customer_id } : {}),
    });
    return c.json(result, 200);
  });
}
