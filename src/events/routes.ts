import { z } from '@hono/zod-openapi';
import { customerState } from '../customers/store.js';
import { audit } from '../http/audit.js';
import { NDJSON, readBatchBody } from '../http/batch-body.js';
import type { App } from '../http/env.js';
import { decodeCursor, encodeCursor, PageQuery } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { inTransactionThenFire } from '../triggers/events.js';
import { ingestEvents } from './ingest.js';
import { registerEventRuleFields } from './rule-fields.js';
import {
  EventInputSchema,
  EventResultSchema,
  EventTypeInputSchema,
  EventTypeSchema,
  StoredEventSchema,
} from './schema.js';
import { isEventKeyRace, selectCustomerEvents } from './store.js';
import { ingestTriggerEvents } from './trigger-events.js';
import { declareEventType, getEventType, listEventTypes } from './types.js';

export const MAX_EVENTS = 10_000;
/** Tries of a batch whose new keys concurrent requests keep recording first. */
const KEY_RACE_TRIES = 5;

const postRoute = defineRoute({
  method: 'post',
  path: '/v1/events',
  tags: ['events'],
  summary: 'Record Segment-shaped track and identify calls (one object, an array of up to 10,000, or NDJSON)',
  description:
    'Shaped like the Segment spec, so a Segment or RudderStack webhook destination posts here unchanged (`{"batch": [...]}` is read too). `track` records an event for the customer named by `userId` (external_id), else `email`, else `anonymousId`; unknown customers are created as leads (no consent implied). `identify` writes traits (profile fields and declared attributes) and merges an anonymousId into the customer. Idempotent on `messageId`: an event posted again is answered `existing`. Validated as a whole: any bad row → 422 listing each by index, nothing written. Each event lands on the contact history (kind `event`) and counts on its event type.',
  roles: ACCESS.integration,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: {
            oneOf: [
              { $ref: '#/components/schemas/EventInput' },
              { type: 'array', maxItems: MAX_EVENTS, items: { $ref: '#/components/schemas/EventInput' } },
            ],
          },
        },
        [NDJSON]: { schema: { type: 'string', description: 'One EventInput JSON object per line' } },
      },
    },
  },
  responses: {
    201: jsonResponse(EventResultSchema, 'At least one event was new'),
    200: jsonResponse(
      EventResultSchema,
      'Nothing new (every event already recorded, or identify calls only)',
    ),
  },
});

const EventTypeList = z.object({ data: z.array(EventTypeSchema) }).openapi('EventTypeList');

const listTypesRoute = defineRoute({
  method: 'get',
  path: '/v1/event-types',
  tags: ['events'],
  summary: 'Event types: seen automatically (count, last seen, properties), described by POST',
  roles: ACCESS.marketingRead,
  responses: { 200: jsonResponse(EventTypeList, 'Every event type, most recently seen first') },
});

const NameParam = z.object({
  name: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'name', in: 'path' } }),
});

const getTypeRoute = defineRoute({
  method: 'get',
  path: '/v1/event-types/{name}',
  tags: ['events'],
  summary: 'One event type',
  roles: ACCESS.marketingRead,
  request: { params: NameParam },
  responses: { 200: jsonResponse(EventTypeSchema, 'The event type'), ...notFoundResponse },
});

const postTypeRoute = defineRoute({
  method: 'post',
  path: '/v1/event-types',
  tags: ['events'],
  summary: 'Describe an event type: description, property types, sensitive properties',
  description:
    'Creates the type when it was never seen, else updates it: a description given replaces the old one, each property given replaces its definition, others are kept. A property flagged `sensitive` is left out of webhooks and shown only to roles allowed sensitive reads.',
  roles: ACCESS.marketing,
  request: { body: jsonBody(EventTypeInputSchema) },
  responses: {
    201: jsonResponse(EventTypeSchema, 'Created'),
    200: jsonResponse(EventTypeSchema, 'Updated'),
  },
});

const EventPage = z
  .object({ data: z.array(StoredEventSchema), next_cursor: z.string().nullable() })
  .openapi('StoredEventPage');

const customerEventsRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/events',
  tags: ['events'],
  summary: 'A customer’s events, newest first',
  roles: ACCESS.customerRead,
  request: {
    params: IdParam,
    query: z.object({ ...PageQuery, name: z.string().min(1).max(200).optional() }),
  },
  responses: { 200: jsonResponse(EventPage, 'A page of events'), ...notFoundResponse },
});

const CursorShape = z.object({ at: z.string().max(40), id: z.number().int().positive() });

/** `{"batch": [...]}` (Segment's batch envelope) gives its rows; any other object is one call. */
const singleOrEnvelope = (value: object): unknown[] => {
  const batch = (value as { batch?: unknown }).batch;
  return Array.isArray(batch) && !('type' in value) ? batch : [value];
};

export function registerEventRoutes(app: App): void {
  registerEventRuleFields();
  // The body schema refers to EventInput by $ref (rows are validated one by one, to report each
  // bad row by index), so the component is registered here.
  app.openAPIRegistry.register('EventInput', EventInputSchema);
  app.openapi(postRoute, async (c) => {
    const values = await readBatchBody(c, { max: MAX_EVENTS, single: singleOrEnvelope });
    const { clock } = c.var.deps;
    const record = () =>
      inTransactionThenFire(
        c.var.deps,
        async (tx) => {
          const result = await ingestEvents(tx, values, clock());
          if (result.leads.length > 0) {
            await audit(
              c,
              result.leads.map((id) => ({
                action: 'customer.create',
                entity: 'customer',
                entity_id: id,
                customer_id: id,
                data: { source: 'events' },
              })),
              tx,
            );
          }
          return result;
        },
        (tx, result) => ingestTriggerEvents(tx, result),
      );
    // A concurrent request that recorded one of the batch's new messageIds first rolls this one
    // back (isEventKeyRace); taken again, the batch finds that key and answers it `existing`.
    let ingested: Awaited<ReturnType<typeof record>>;
    for (let attempt = 1; ; attempt++) {
      try {
        ingested = await record();
        break;
      } catch (error) {
        if (!isEventKeyRace(error) || attempt >= KEY_RACE_TRIES) throw error;
      }
    }
    return c.json(ingested.result, ingested.result.created > 0 ? 201 : 200);
  });

  app.openapi(listTypesRoute, async (c) => c.json({ data: await listEventTypes(c.var.deps.sql) }, 200));

  app.openapi(getTypeRoute, async (c) => {
    const type = await getEventType(c.var.deps.sql, c.req.valid('param').name);
    if (!type) throw notFound('Event type');
    return c.json(type, 200);
  });

  app.openapi(postTypeRoute, async (c) => {
    const body = c.req.valid('json');
    const { type, created } = await declareEventType(c.var.deps.sql, body);
    await audit(c, {
      action: created ? 'event_type.create' : 'event_type.update',
      entity: 'event_type',
      data: { name: body.name },
    });
    return c.json(type, created ? 201 : 200);
  });

  app.openapi(customerEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const before = decodeCursor(query.cursor, CursorShape);
    const { sql } = c.var.deps;
    if (!(await customerState(sql, id))) throw notFound('Customer');
    const rows = await selectCustomerEvents(sql, {
      customerId: id,
      name: query.name,
      limit: query.limit,
      before,
    });
    const hasMore = rows.length > query.limit;
    const data = hasMore ? rows.slice(0, query.limit) : rows;
    const last = data[data.length - 1];
    await audit(c, { action: 'event.read', entity: 'customer', entity_id: id, customer_id: id });
    return c.json(
      {
        data: data.map((r) => ({
          id: Number(r.id),
          customer_id: Number(r.customer_id),
          name: r.name,
          properties: r.properties,
          message_id: r.message_id,
          at: r.at.toISOString(),
          received_at: r.received_at.toISOString(),
        })),
        next_cursor: hasMore && last ? encodeCursor({ at: last.at_key, id: Number(last.id) }) : null,
      },
      200,
    );
  });
}
