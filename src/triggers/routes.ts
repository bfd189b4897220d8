import { z } from '@hono/zod-openapi';
import type { Db } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { registerFieldSource } from '../rules/fields.js';
import { warnRules, withWarnings } from '../rules/warnings.js';
import { triggerEventFields } from './event-fields.js';
import { createTrigger, deleteTrigger, triggerView, updateTrigger } from './manage.js';
import { previewTrigger } from './preview.js';
import {
  PreviewInputSchema,
  PreviewSchema,
  SettingsSchema,
  TRIGGER_EVENTS,
  TriggerCreateSchema,
  TriggerPatchSchema,
  TriggerSchema,
} from './schema.js';
import { findTrigger, listTriggers, readSettings, triggerMessageCounts, writeSettings } from './store.js';

const tags = ['Triggers'];
export const TriggerList = z
  .object({ data: z.array(TriggerSchema), next_cursor: z.string().nullable() })
  .openapi('TriggerList');

const WarningsSchema = z.array(z.object({ path: z.string(), message: z.string() })).openapi({
  description: 'What in the filter cannot be meant (not an error: it was saved); absent when nothing is',
});
const SavedTrigger = TriggerSchema.extend({ warnings: WarningsSchema.optional() }).openapi('SavedTrigger');

export function registerTriggerRoutes(app: App): void {
  registerFieldSource(triggerEventFields);
  const warnings = (deps: { sql: Db; clock: () => Date }, row: { filter: unknown; event: string }) =>
    warnRules(deps.sql, [{ rule: row.filter, path: 'filter' }], {
      scope: 'trigger',
      event: row.event,
      now: deps.clock(),
    });
  // Before /v1/triggers/{id}, so that `settings` is not read as an id.
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/triggers/settings',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'The frequency cap across all triggers',
      responses: { 200: jsonResponse(SettingsSchema, 'The cap') },
    }),
    async (c) => c.json(await readSettings(c.var.deps.sql), 200),
  );

  app.openapi(
    defineRoute({
      method: 'put',
      path: '/v1/triggers/settings',
      roles: ACCESS.marketing,
      tags,
      summary: 'Set the frequency cap: at most max_messages automated emails per customer in days',
      request: { body: jsonBody(SettingsSchema) },
      responses: { 200: jsonResponse(SettingsSchema, 'The cap') },
    }),
    async (c) => {
      const { sql } = c.var.deps;
      const settings = await sql.begin((tx) => writeSettings(tx, c.req.valid('json')));
      return c.json(settings, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/triggers',
      roles: ACCESS.marketing,
      tags,
      summary: 'Create a trigger (an automated email fired by an event)',
      request: { body: jsonBody(TriggerCreateSchema) },
      responses: { 201: jsonResponse(SavedTrigger, 'The trigger, with warnings about its filter') },
    }),
    async (c) => {
      const row = await createTrigger(c.var.deps.sql, c.req.valid('json'));
      return c.json(withWarnings(triggerView(row), await warnings(c.var.deps, row)), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/triggers',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'List triggers, newest first (optionally one event’s, or only those on or off)',
      request: {
        query: z.object({
          ...PageQuery,
          event: z.enum(TRIGGER_EVENTS).optional(),
          enabled: z
            .enum(['true', 'false'])
            .optional()
            .openapi({ description: '`true`: only those switched on; `false`: only those off' }),
        }),
      },
      responses: { 200: jsonResponse(TriggerList, 'A page of triggers') },
    }),
    async (c) => {
      const { limit, cursor, event, enabled } = c.req.valid('query');
      const position = decodeCursor(cursor, z.object({ id: z.number().int().positive() }));
      const rows = await listTriggers(c.var.deps.sql, {
        limit,
        ...(position ? { beforeId: position.id } : {}),
        event,
        enabled: enabled === undefined ? undefined : enabled === 'true',
      });
      const result = page(rows, limit, (r) => ({ id: r.id }));
      return c.json({ data: result.data.map(triggerView), next_cursor: result.next_cursor }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/triggers/{id}',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'A trigger with its messages by status',
      request: { params: IdParam },
      responses: { 200: jsonResponse(TriggerSchema, 'The trigger'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await findTrigger(c.var.deps.sql, id);
      if (!row) throw notFound(`Trigger ${id}`);
      return c.json({ ...triggerView(row), messages: await triggerMessageCounts(c.var.deps.sql, id) }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/triggers/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Edit a trigger; disabling it cancels its messages not sent yet',
      request: { params: IdParam, body: jsonBody(TriggerPatchSchema) },
      responses: {
        200: jsonResponse(SavedTrigger, 'The trigger, with warnings about its filter'),
        ...notFoundResponse,
      },
    }),
    async (c) => {
      const row = await updateTrigger(c.var.deps.sql, c.req.valid('param').id, c.req.valid('json'));
      return c.json(withWarnings(triggerView(row), await warnings(c.var.deps, row)), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/triggers/{id}/preview',
      roles: ACCESS.marketing,
      tags,
      summary: 'What the trigger would do for a customer and an event, without sending or writing anything',
      description:
        'The event is `event` (its fields, as the filter sees them under `event`), or for a purchase trigger the customer’s latest order. Answers whether a message would be queued and, if not, why (`disabled`, `filter`, `already_fired`, a suppression reason such as `no_consent`, `capped`), with the filter’s verdict, the frequency cap, when it would be sent and the offers it would carry.',
      request: { params: IdParam, body: jsonBody(PreviewInputSchema) },
      responses: { 200: jsonResponse(PreviewSchema, 'The dry run'), ...notFoundResponse },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const row = await findTrigger(c.var.deps.sql, id);
      if (!row) throw notFound(`Trigger ${id}`);
      const input = c.req.valid('json');
      const result = await previewTrigger(c.var.deps, row, input);
      // The dry run reads the customer's profile, consents and history: a read of personal data.
      await audit(c, {
        action: 'trigger.preview',
        entity: 'trigger',
        entity_id: id,
        customer_id: input.customer_id,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/triggers/{id}',
      roles: ACCESS.marketing,
      tags,
      summary: 'Delete a trigger; its messages not sent yet are cancelled',
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...notFoundResponse },
    }),
    async (c) => {
      await deleteTrigger(c.var.deps.sql, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );
}
