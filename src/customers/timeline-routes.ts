import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { commaList, isoDateTime, requiredText, slug } from '../http/fields.js';
import { decodeCursor, encodeCursor, PageQuery } from '../http/pagination.js';
import { conflict, invalid, notFound } from '../http/problem.js';
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
  eventByClientRef,
  INTERACTION_CHANNELS,
  INTERACTION_KINDS,
  recordContactEvent,
  timelinePage,
} from './events.js';
import { toContactEvent } from './serialize.js';
import { customerState, lockCustomer } from './store.js';

// A small allowance for clocks that run ahead of ours.
const CLOCK_SKEW_MS = 5 * 60_000;

export const ContactEventSchema = z
  .object({
    id: z.number().int().openapi({
      description: "The event's id; for a `purchase` entry, the purchase's id (the same as `purchase_id`)",
    }),
    customer_id: z.number().int(),
    kind: z.string().openapi({ example: 'call' }),
    channel: z.string().nullable(),
    text: z.string().nullable(),
    author: z.string().nullable(),
    message_id: z.number().int().nullable(),
    campaign_id: z.number().int().nullable(),
    trigger_id: z.number().int().nullable(),
    offer_id: z.number().int().nullable(),
    purchase_id: z.number().int().nullable(),
    machine: z.boolean(),
    data: z.record(z.string(), z.unknown()),
    at: z.string(),
  })
  .openapi('ContactEvent');

const InteractionInput = z
  .strictObject({
    kind: z.enum(INTERACTION_KINDS),
    channel: z.enum(INTERACTION_CHANNELS).optional(),
    text: requiredText(10_000).openapi({ example: 'Agreed to call back on Monday about the sofa delivery' }),
    author: requiredText(200).openapi({ example: 'marie@shop.example' }),
    at: isoDateTime().optional().openapi({ description: 'When it happened; defaults to now' }),
    client_ref: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({
        description:
          'An idempotency key chosen by the client: a retry with the same key answers 200 with the event ' +
          'recorded the first time instead of recording it again',
      }),
  })
  .openapi('InteractionInput');

export const TimelinePage = z
  .object({ data: z.array(ContactEventSchema), next_cursor: z.string().nullable() })
  .openapi('TimelinePage');

const timelineRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/timeline',
  tags: ['contact history'],
  summary: 'The contact history, newest first (every kind: purchase, note, call, sent, opened…)',
  roles: ACCESS.customerRead,
  request: {
    params: IdParam,
    query: z.object({
      ...PageQuery,
      kinds: commaList(slug(40), 'a comma-separated list of event kinds such as purchase,call')
        .optional()
        .openapi({ type: 'string', description: 'Comma-separated kinds to keep, e.g. `purchase,call`' }),
    }),
  },
  responses: { 200: jsonResponse(TimelinePage, 'A page of events'), ...notFoundResponse },
});

const interactionRoute = defineRoute({
  method: 'post',
  path: '/v1/customers/{id}/interactions',
  tags: ['contact history'],
  summary: 'Record what happened with the customer (a call, a visit, a complaint, a note…)',
  roles: ACCESS.interactions,
  request: { params: IdParam, body: jsonBody(InteractionInput) },
  responses: {
    200: jsonResponse(ContactEventSchema, 'Already recorded under the same client_ref'),
    201: jsonResponse(ContactEventSchema, 'Recorded'),
    ...notFoundResponse,
    ...conflictResponse,
  },
});

const CursorShape = z.object({
  at: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    .refine((at) => !Number.isNaN(Date.parse(at))),
  id: z.number().int().positive(),
  // Cursors issued before purchases were read from their own table name no source: events.
  source: z.enum(['custom', 'events', 'purchases']).default('events'),
});

export function registerTimelineRoutes(app: App): void {
  app.openapi(timelineRoute, async (c) => {
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const cursor = decodeCursor(query.cursor, CursorShape);
    const { sql } = c.var.deps;
    if (!(await customerState(sql, id))) throw notFound('Customer');
    const result = await timelinePage(sql, {
      customerId: id,
      limit: query.limit,
      before: cursor,
      kinds: query.kinds,
    });
    await audit(c, { action: 'timeline.read', entity: 'customer', entity_id: id, customer_id: id });
    return c.json(
      { data: result.rows.map(toContactEvent), next_cursor: result.next ? encodeCursor(result.next) : null },
      200,
    );
  });

  app.openapi(interactionRoute, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const now = clock();
    if (input.at && Date.parse(input.at) > now.getTime() + CLOCK_SKEW_MS) {
      throw invalid([{ path: 'at', in: 'body', message: 'must not be in the future' }]);
    }
    const result = await sql.begin(async (tx) => {
      const state = await lockCustomer(tx, id);
      if (!state) throw notFound('Customer');
      if (state.erased) throw conflict('This customer was erased', 'erased');
      // The customer row is locked, so a concurrent retry with the same key waits and finds this one.
      if (input.client_ref) {
        const earlier = await eventByClientRef(tx, id, input.client_ref);
        if (earlier) return { row: earlier, created: false };
      }
      const row = await recordContactEvent(tx, {
        customer_id: id,
        kind: input.kind,
        channel: input.channel ?? null,
        text: input.text,
        author: input.author,
        at: input.at ?? now,
        ...(input.client_ref ? { data: { client_ref: input.client_ref } } : {}),
      });
      await audit(
        c,
        {
          action: 'interaction.create',
          entity: 'contact_event',
          entity_id: row!.id,
          customer_id: id,
          data: { kind: input.kind },
        },
        tx,
      );
      return { row: row!, created: true };
    });
    return c.json(toContactEvent(result.row), result.created ? 201 : 200);
  });
}
