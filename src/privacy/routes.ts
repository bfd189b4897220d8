import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { isoDateTime, slug } from '../http/fields.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonResponse, notFoundResponse } from '../http/route.js';
import { auditPage, toAuditEntry } from './audit-log.js';
import { exportPersonalData } from './export.js';

const AuditEntry = z
  .object({
    id: z.number().int(),
    at: z.string(),
    api_key_id: z.number().int().nullable().openapi({ description: 'The API key that acted' }),
    actor: z.string().nullable().openapi({ description: 'The name of that key' }),
    action: z.string().openapi({ example: 'customer.read' }),
    entity: z.string().openapi({ example: 'customer' }),
    entity_id: z.string().nullable(),
    customer_id: z.number().int().nullable(),
    request_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).openapi({ description: 'Field names and counts, never values' }),
  })
  .openapi('AuditEntry');

export const AuditPage = z
  .object({ data: z.array(AuditEntry), next_cursor: z.string().nullable() })
  .openapi('AuditPage');

const auditRoute = defineRoute({
  method: 'get',
  path: '/v1/audit',
  tags: ['privacy'],
  summary: 'The audit log: every read of personal data and every change, newest first',
  roles: ACCESS.admin,
  request: {
    query: z.object({
      ...PageQuery,
      customer_id: z.coerce
        .number()
        .int()
        .positive()
        .optional()
        .openapi({ description: 'Only about this customer' }),
      entity: slug().optional().openapi({ description: 'Only this kind of object', example: 'customer' }),
      action: z
        .string()
        .max(100)
        .optional()
        .openapi({ description: 'Only this action', example: 'customer.export' }),
      since: isoDateTime().optional().openapi({ description: 'Only entries at or after this instant' }),
    }),
  },
  responses: {
    200: jsonResponse(AuditPage, 'A page of the audit log'),
  },
});

const ExportSchema = z
  .object({
    exported_at: z.string(),
    customer: z.record(z.string(), z.unknown()),
    consents: z.array(z.record(z.string(), z.unknown())),
    contact_events: z.array(z.record(z.string(), z.unknown())),
    purchases: z.array(z.record(z.string(), z.unknown())),
    messages: z.array(z.record(z.string(), z.unknown())),
    offer_impressions: z.array(z.record(z.string(), z.unknown())),
    access_log: z.array(z.record(z.string(), z.unknown())),
    linked_leads: z
      .array(
        z.object({
          customer: z.record(z.string(), z.unknown()),
          consents: z.array(z.record(z.string(), z.unknown())),
          contact_events: z.array(z.record(z.string(), z.unknown())),
          purchases: z.array(z.record(z.string(), z.unknown())),
          messages: z.array(z.record(z.string(), z.unknown())),
          offer_impressions: z.array(z.record(z.string(), z.unknown())),
        }),
      )
      .openapi({
        description:
          'Leads made for the person’s social handles before their profile held them (messages from those handles); erasure erases them too',
      }),
    erasure: z.object({ clears: z.record(z.string(), z.array(z.string())), keeps: z.string() }),
  })
  .openapi('PersonalDataExport');

const exportRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/export',
  tags: ['privacy'],
  summary: 'Everything held on a person, as one JSON document (right of access)',
  description:
    '`erasure.clears` lists, per section, exactly the fields that `DELETE /v1/customers/{id}` removes.',
  roles: ACCESS.admin,
  request: { params: IdParam },
  responses: { 200: jsonResponse(ExportSchema, 'The export'), ...notFoundResponse },
});

const CursorShape = z.object({ id: z.number().int().positive() });

/** The audit log and the personal-data export. */
export function registerPrivacyRoutes(app: App): void {
  app.openapi(auditRoute, async (c) => {
    const query = c.req.valid('query');
    const rows = await auditPage(c.var.deps.sql, {
      beforeId: decodeCursor(query.cursor, CursorShape)?.id,
      limit: query.limit,
      customerId: query.customer_id,
      entity: query.entity,
      action: query.action,
      since: query.since,
    });
    const result = page(rows, query.limit, (r) => ({ id: r.id }));
    return c.json({ data: result.data.map(toAuditEntry), next_cursor: result.next_cursor }, 200);
  });

  app.openapi(exportRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, clock } = c.var.deps;
    const document = await exportPersonalData(sql, id, clock());
    if (!document) throw notFound('Customer');
    await audit(c, { action: 'customer.export', entity: 'customer', entity_id: id, customer_id: id });
    return c.json(document, 200);
  });
}
