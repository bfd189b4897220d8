import { z } from '@hono/zod-openapi';
import { recordContactEvent } from '../customers/events.js';
import { customerState } from '../customers/store.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { commaList } from '../http/fields.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { conflict, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import {
  conflictResponse,
  defineRoute,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundResponse,
} from '../http/route.js';
import {
  type CustomerMessageRow,
  cancelMessage,
  customerMessages,
  findMessage,
  MESSAGE_STATUSES,
} from './store.js';

const MessageSchema = z
  .object({
    id: z.number().int(),
    customer_id: z.number().int(),
    campaign_id: z.number().int().nullable(),
    campaign_name: z.string().nullable(),
    trigger_id: z.number().int().nullable(),
    trigger_name: z.string().nullable(),
    variant: z.string().nullable(),
    status: z.enum(MESSAGE_STATUSES),
    suppressed_reason: z
      .string()
      .nullable()
      .openapi({ description: 'Why it is not sent (suppressed or cancelled)' }),
    policy_reason: z.string().nullable().openapi({
      description:
        'What the contact policy did: `quiet_hours` (held until `send_at`), `daily_cap`, `weekly_cap`, `outranked`, `complaint_suspension` (dropped)',
    }),
    error: z.string().nullable(),
    offer_ids: z.array(z.number().int()),
    send_at: z.string().nullable().openapi({ description: 'When an automated email is due' }),
    sent_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('CustomerMessage');

export const MessagePage = z
  .object({ data: z.array(MessageSchema), next_cursor: z.string().nullable() })
  .openapi('CustomerMessagePage');

const CancelInput = z
  .strictObject({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .openapi({ example: 'Customer asked on the phone not to get the reminder' }),
  })
  .openapi('MessageCancelInput');

const CursorShape = z.object({ id: z.number().int().positive() });

const toJson = (m: CustomerMessageRow) => ({
  ...m,
  send_at: m.send_at?.toISOString() ?? null,
  sent_at: m.sent_at?.toISOString() ?? null,
  created_at: m.created_at.toISOString(),
  updated_at: m.updated_at.toISOString(),
});

export function registerMessageRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/customers/{id}/messages',
      tags: ['contact history'],
      summary: 'The customer’s emails, campaign and automated, newest first: what is due, sent, or why not',
      roles: ACCESS.customerRead,
      request: {
        params: IdParam,
        query: z.object({
          ...PageQuery,
          status: commaList(
            z.enum(MESSAGE_STATUSES),
            `a comma-separated list of ${MESSAGE_STATUSES.join(', ')}`,
          )
            .optional()
            .openapi({
              type: 'string',
              description: 'Comma-separated statuses to keep, e.g. `queued,held` (what is coming)',
            }),
        }),
      },
      responses: { 200: jsonResponse(MessagePage, 'A page of messages'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const query = c.req.valid('query');
      const cursor = decodeCursor(query.cursor, CursorShape);
      const { sql } = c.var.deps;
      if (!(await customerState(sql, id))) throw notFound(`Customer ${id}`);
      const rows = await customerMessages(sql, {
        customerId: id,
        limit: query.limit,
        beforeId: cursor?.id,
        statuses: query.status,
      });
      const result = page(rows, query.limit, (m) => ({ id: m.id }));
      await audit(c, {
        action: 'message.read',
        entity: 'customer',
        entity_id: id,
        customer_id: id,
        data: { count: result.data.length, ...(query.status ? { statuses: query.status } : {}) },
      });
      return c.json({ data: result.data.map(toJson), next_cursor: result.next_cursor }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/messages/{id}/cancel',
      tags: ['contact history'],
      summary:
        'Cancel one email not sent yet (queued, or held for an A/B winner); it goes on the contact history',
      roles: ACCESS.interactions,
      request: { params: IdParam, body: { ...jsonBody(CancelInput), required: false } },
      responses: {
        200: jsonResponse(MessageSchema, 'Cancelled'),
        ...notFoundResponse,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { reason } = c.req.valid('json') ?? {};
      const { sql } = c.var.deps;
      const row = await sql.begin(async (tx) => {
        const message = await findMessage(tx, id);
        if (!message) throw notFound(`Message ${id}`);
        if (!(await cancelMessage(tx, id, 'cancelled_by_staff')))
          throw conflict(
            `Message ${id} is ${message.status}: only a queued or held email can be cancelled`,
            'not-cancellable',
          );
        await recordContactEvent(tx, {
          customer_id: message.customer_id,
          kind: 'message_cancelled',
          text: reason ?? null,
          author: c.var.auth?.name ?? null,
          message_id: id,
          campaign_id: message.campaign_id,
          trigger_id: message.trigger_id,
        });
        await audit(
          c,
          { action: 'message.cancel', entity: 'message', entity_id: id, customer_id: message.customer_id },
          tx,
        );
        return (await findMessage(tx, id))!;
      });
      return c.json(toJson(row), 200);
    },
  );
}
