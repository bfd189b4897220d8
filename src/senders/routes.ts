import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { SenderCreateSchema, SenderPatchSchema, SenderSchema } from './schema.js';
import { createSenderIdentity, patchSenderIdentity, senderView } from './service.js';
import { findSender, listSenders } from './store.js';

const tags = ['senders'];

export const SenderList = z
  .object({ data: z.array(SenderSchema), next_cursor: z.string().nullable() })
  .openapi('SenderList');

const create = defineRoute({
  method: 'post',
  path: '/v1/senders',
  roles: ACCESS.admin,
  tags,
  summary: 'Add a sender identity (From, Reply-To, DKIM domain, selector and key)',
  description:
    'The private key is stored encrypted and never returned; with a DKIM domain and no key, one is generated. The From domain must be aligned with the DKIM domain (422 otherwise). The response lists the SPF, DKIM and DMARC records to publish.',
  request: { body: jsonBody(SenderCreateSchema) },
  responses: { 201: jsonResponse(SenderSchema, 'The sender') },
});

const list = defineRoute({
  method: 'get',
  path: '/v1/senders',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'List sender identities',
  request: { query: z.object(PageQuery) },
  responses: { 200: jsonResponse(SenderList, 'A page of senders') },
});

const get = defineRoute({
  method: 'get',
  path: '/v1/senders/{id}',
  roles: ACCESS.marketingRead,
  tags,
  summary: 'Read a sender identity and the DNS records to publish for it',
  request: { params: IdParam },
  responses: { 200: jsonResponse(SenderSchema, 'The sender'), ...notFoundResponse },
});

const patch = defineRoute({
  method: 'patch',
  path: '/v1/senders/{id}',
  roles: ACCESS.admin,
  tags,
  summary: 'Change a sender identity (a new key, the default, …)',
  request: { params: IdParam, body: jsonBody(SenderPatchSchema) },
  responses: { 200: jsonResponse(SenderSchema, 'The sender'), ...notFoundResponse },
});

const Cursor = z.object({ id: z.number().int().nonnegative() });

export function registerSenderRoutes(app: App): void {
  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const { config } = c.var.deps;
    const row = await c.var.deps.sql.begin(async (tx) => {
      const created = await createSenderIdentity(tx, config, body);
      await audit(c, { action: 'sender.create', entity: 'sender', entity_id: created.id }, tx);
      return created;
    });
    return c.json(senderView(row, config), 201);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, Cursor);
    const rows = await listSenders(c.var.deps.sql, after?.id ?? 0, q.limit);
    return c.json(
      page(
        rows.map((r) => senderView(r, c.var.deps.config)),
        q.limit,
        (s) => ({ id: s.id }),
      ),
      200,
    );
  });

  app.openapi(get, async (c) => {
    const { id } = c.req.valid('param');
    const row = await findSender(c.var.deps.sql, id);
    if (!row) throw notFound(`sender ${id}`);
    return c.json(senderView(row, c.var.deps.config), 200);
  });

  app.openapi(patch, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { config } = c.var.deps;
    const row = await c.var.deps.sql.begin(async (tx) => {
      const updated = await patchSenderIdentity(tx, config, id, body);
      const data = {
        fields: Object.keys(body)
          .filter((k) => k !== 'dkim_private_key')
          .concat(body.dkim_private_key !== undefined ? ['dkim_private_key'] : []),
      };
      await audit(c, { action: 'sender.update', entity: 'sender', entity_id: id, data }, tx);
      return updated;
    });
    return c.json(senderView(row, c.var.deps.config), 200);
  });
}
