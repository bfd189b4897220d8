import { randomBytes } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { text } from '../http/fields.js';
import { decodeCursor, encodeCursor, PageQuery } from '../http/pagination.js';
import { invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { refusedUrl } from './addresses.js';
import {
  type DeliveryRow,
  deleteEndpoint,
  type EndpointRow,
  insertEndpoint,
  replayDelivery,
  selectDeliveries,
  selectEndpoint,
  selectEndpoints,
  updateEndpoint,
} from './store.js';

/** The event names an endpoint may subscribe to. */
export const WEBHOOK_EVENTS = [
  'message.sent',
  'message.delivered',
  'message.opened',
  'message.clicked',
  'message.bounced',
  'conversion.created',
  'customer.unsubscribed',
  'customer.erased',
] as const;

const fields = {
  url: z.string().max(2000).openapi({ example: 'https://hooks.example.com/offerflow' }),
  description: text(500).nullable().optional(),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1, 'subscribe to at least one event')
    .max(WEBHOOK_EVENTS.length)
    .openapi({ example: ['message.sent', 'message.clicked'] }),
  enabled: z.boolean().optional(),
};
const CreateSchema = z.strictObject(fields).openapi('WebhookInput');
const PatchSchema = z.strictObject(fields).partial().openapi('WebhookPatch');

export const EndpointSchema = z
  .object({
    id: z.number().int(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().openapi({ description: 'Why it was disabled (it kept failing)' }),
    disabled_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook');
export const CreatedSchema = EndpointSchema.extend({
  secret: z.string().openapi({
    description: 'The signing secret (whsec_…), returned only here: verify webhook-signature with it',
  }),
}).openapi('WebhookCreated');

export const DeliverySchema = z
  .object({
    id: z.number().int(),
    event: z.string(),
    msg_id: z.string().openapi({ description: 'The webhook-id header: the same on every retry' }),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()),
  })
  .openapi('WebhookDelivery');

const toEndpoint = (r: EndpointRow) => ({
  id: Number(r.id),
  url: r.url,
  description: r.description,
  events: r.events,
  enabled: r.enabled,
  disabled_reason: r.disabled_reason,
  disabled_at: r.disabled_at?.toISOString() ?? null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});
const toDelivery = (r: DeliveryRow) => ({
  id: Number(r.id),
  event: r.event,
  msg_id: r.msg_id,
  status: r.status,
  attempts: r.attempts,
  last_status: r.last_status,
  last_error: r.last_error,
  next_attempt_at: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
  created_at: r.created_at.toISOString(),
  delivered_at: r.delivered_at?.toISOString() ?? null,
  payload: r.payload,
});

/** A new signing secret in the Standard Webhooks format: whsec_ and 32 random bytes in base64. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

const tags = ['webhooks'];
const DeliveryParams = z.object({
  id: IdParam.shape.id,
  delivery_id: IdParam.shape.id.openapi({ param: { name: 'delivery_id', in: 'path' } }),
});

export function registerWebhookRoutes(app: App): void {
  const checkUrl = async (url: string, allowPrivate: boolean) => {
    const refused = await refusedUrl(url, allowPrivate);
    if (refused) throw invalid([{ path: 'url', in: 'body', message: refused }]);
  };

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/webhooks',
      tags,
      roles: ACCESS.admin,
      summary: 'Create a webhook endpoint (its signing secret is in this answer only)',
      description:
        'Deliveries are signed as the Standard Webhooks spec says (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`), retried with exponential backoff for up to a day, at least once (receivers dedupe on `webhook-id`), in order per customer where they can. URLs to loopback, private and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE is set, and checked again at each delivery.',
      request: { body: jsonBody(CreateSchema) },
      responses: { 201: jsonResponse(CreatedSchema, 'Created') },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await checkUrl(body.url, c.var.deps.config.WEBHOOK_ALLOW_PRIVATE);
      const secret = newSecret();
      const [row] = await insertEndpoint(c.var.deps.sql, {
        url: body.url,
        description: body.description ?? null,
        events: [...new Set(body.events)],
        secret,
        enabled: body.enabled ?? true,
      });
      await audit(c, { action: 'webhook.create', entity: 'webhook', entity_id: Number(row!.id) });
      return c.json({ ...toEndpoint(row!), secret }, 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/webhooks',
      tags,
      roles: ACCESS.admin,
      summary: 'Webhook endpoints, newest first',
      request: { query: z.object(PageQuery) },
      responses: {
        200: jsonResponse(
          z
            .object({ data: z.array(EndpointSchema), next_cursor: z.string().nullable() })
            .openapi('WebhookList'),
          'A page of endpoints',
        ),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const before = decodeCursor(cursor, z.object({ id: z.number().int().positive() }));
      const rows = await selectEndpoints(c.var.deps.sql, { limit, beforeId: before?.id });
      const data = rows.slice(0, limit);
      const last = data[data.length - 1];
      return c.json(
        {
          data: data.map(toEndpoint),
          next_cursor: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/webhooks/{id}',
      tags,
      roles: ACCESS.admin,
      summary: 'One webhook endpoint',
      request: { params: IdParam },
      responses: { 200: jsonResponse(EndpointSchema, 'The endpoint'), ...notFoundResponse },
    }),
    async (c) => {
      const row = await selectEndpoint(c.var.deps.sql, c.req.valid('param').id);
      if (!row) throw notFound('Webhook');
      return c.json(toEndpoint(row), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/webhooks/{id}',
      tags,
      roles: ACCESS.admin,
      summary: 'Change a webhook endpoint (`enabled: true` turns a disabled one back on)',
      request: { params: IdParam, body: jsonBody(PatchSchema) },
      responses: { 200: jsonResponse(EndpointSchema, 'Changed'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      if (body.url !== undefined) await checkUrl(body.url, c.var.deps.config.WEBHOOK_ALLOW_PRIVATE);
      const patch = {
        ...(body.url !== undefined ? { url: body.url } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.events !== undefined ? { events: [...new Set(body.events)] } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
      };
      const row = await updateEndpoint(c.var.deps.sql, id, patch);
      if (!row) throw notFound('Webhook');
      await audit(c, { action: 'webhook.update', entity: 'webhook', entity_id: id });
      return c.json(toEndpoint(row), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/webhooks/{id}',
      tags,
      roles: ACCESS.admin,
      summary: 'Delete a webhook endpoint (its pending deliveries do not go out)',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await deleteEndpoint(c.var.deps.sql, id))) throw notFound('Webhook');
      await audit(c, { action: 'webhook.delete', entity: 'webhook', entity_id: id });
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/webhooks/{id}/deliveries',
      tags,
      roles: ACCESS.admin,
      summary: 'The delivery log of an endpoint, newest first',
      request: {
        params: IdParam,
        query: z.object({ ...PageQuery, status: z.enum(['pending', 'succeeded', 'failed']).optional() }),
      },
      responses: {
        200: jsonResponse(
          z
            .object({ data: z.array(DeliverySchema), next_cursor: z.string().nullable() })
            .openapi('WebhookDeliveryPage'),
          'A page of deliveries',
        ),
        ...notFoundResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor, status } = c.req.valid('query');
      const { sql } = c.var.deps;
      if (!(await selectEndpoint(sql, id))) throw notFound('Webhook');
      const before = decodeCursor(cursor, z.object({ id: z.number().int().positive() }));
      const rows = await selectDeliveries(sql, { endpointId: id, limit, beforeId: before?.id, status });
      const data = rows.slice(0, limit);
      const last = data[data.length - 1];
      return c.json(
        {
          data: data.map(toDelivery),
          next_cursor: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/{id}/deliveries/{delivery_id}/replay',
      tags,
      roles: ACCESS.admin,
      summary: 'Deliver again (same webhook-id, so a receiver that has it can tell)',
      request: { params: DeliveryParams },
      responses: { 202: jsonResponse(DeliverySchema, 'Queued again'), ...notFoundResponse },
    }),
    async (c) => {
      const { id, delivery_id } = c.req.valid('param');
      const row = await replayDelivery(c.var.deps.sql, id, delivery_id);
      if (!row) throw notFound('Delivery');
      await audit(c, { action: 'webhook.replay', entity: 'webhook', entity_id: id, data: { delivery_id } });
      return c.json(toDelivery(row), 202);
    },
  );
}
