import { z } from '@hono/zod-openapi';
import { attributeCommittedPurchases } from '../conversions/attribute.js';
import { customerState } from '../customers/store.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { decodeCursor, encodeCursor, PageQuery } from '../http/pagination.js';
import { AppError, invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonResponse, notFoundResponse } from '../http/route.js';
import { enqueueCustomerRefresh } from '../products/refresh.js';
import { inTransactionThenFire, purchaseTriggerEvents } from '../triggers/events.js';
import { parsePurchaseLines, recordPurchases } from './record.js';
import { PurchaseInputSchema, PurchaseSchema } from './schema.js';
import type { PurchaseRow } from './store.js';
import { selectCustomerPurchases } from './store.js';

export const MAX_LINES = 10_000;

const RecordResult = z
  .object({
    data: z.array(
      z.object({
        index: z.number().int(),
        id: z.number().int(),
        external_line_id: z.string(),
        status: z.enum(['created', 'existing']),
      }),
    ),
    created: z.number().int(),
    existing: z.number().int(),
  })
  .openapi('PurchaseRecordResult');

const postRoute = defineRoute({
  method: 'post',
  path: '/v1/purchases',
  tags: ['purchases'],
  summary: 'Record order lines (one line object, or an array of up to 10,000)',
  description:
    'Idempotent on `external_line_id`: a line already recorded changes nothing and is answered `existing`. Validated as a whole: any bad line → 422 listing each by index, nothing written. Each line shows on the customer timeline as a `purchase` entry (read from purchases, not copied).',
  roles: ACCESS.integration,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: {
            oneOf: [
              { $ref: '#/components/schemas/PurchaseInput' },
              { type: 'array', maxItems: MAX_LINES, items: { $ref: '#/components/schemas/PurchaseInput' } },
            ],
          },
        },
      },
    },
  },
  responses: {
    201: jsonResponse(RecordResult, 'At least one line was new'),
    200: jsonResponse(RecordResult, 'Every line was already recorded'),
  },
});

export const PurchasePage = z
  .object({ data: z.array(PurchaseSchema), next_cursor: z.string().nullable() })
  .openapi('PurchasePage');

const listRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/purchases',
  tags: ['purchases'],
  summary: 'A customer’s purchases, newest first',
  roles: ACCESS.customerRead,
  request: { params: IdParam, query: z.object(PageQuery) },
  responses: { 200: jsonResponse(PurchasePage, 'A page of purchases'), ...notFoundResponse },
});

const CursorShape = z.object({
  at: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    .refine((at) => !Number.isNaN(Date.parse(at))),
  id: z.number().int().positive(),
});

const toPurchase = (row: PurchaseRow) => ({
  id: row.id,
  external_line_id: row.external_line_id,
  customer_id: row.customer_id,
  order_ref: row.order_ref,
  sku: row.sku,
  category: row.category,
  quantity: row.quantity,
  kind: row.kind,
  amount: row.amount,
  currency: row.currency,
  purchased_at: row.purchased_at.toISOString(),
  source: row.source,
  coupon_code: row.coupon_code,
  created_at: row.created_at.toISOString(),
});

/** One line object or an array of them. */
async function readLines(text: string): Promise<unknown[]> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError(400, 'malformed-json', 'The request body is not valid JSON', [
      { path: '', in: 'body', message: 'malformed JSON' },
    ]);
  }
  if (Array.isArray(body)) {
    if (body.length === 0) throw invalid([{ path: '', in: 'body', message: 'no lines' }]);
    if (body.length > MAX_LINES) {
      throw invalid([
        { path: '', in: 'body', message: `at most ${MAX_LINES} lines per request, got ${body.length}` },
      ]);
    }
    return body;
  }
  if (typeof body !== 'object' || body === null) {
    throw invalid([{ path: '', in: 'body', message: 'expected a purchase line object or an array of them' }]);
  }
  return [body];
}

export function registerPurchaseRoutes(app: App): void {
  // The body schema above refers to PurchaseInput by $ref (lines are validated one by one, to
  // report each bad line by index), so the component is registered here, not through a route.
  app.openAPIRegistry.register('PurchaseInput', PurchaseInputSchema);
  app.openapi(postRoute, async (c) => {
    const values = await readLines(await c.req.text());
    const { lines, errors } = parsePurchaseLines(values);
    const { clock } = c.var.deps;
    const result = await inTransactionThenFire(
      c.var.deps,
      async (tx) => {
        const recorded = await recordPurchases(tx, lines, clock(), errors);
        await audit(
          c,
          recorded.created.map((p) => ({
            action: 'purchase.create',
            entity: 'purchase',
            entity_id: p.id,
            customer_id: p.customer_id,
          })),
          tx,
        );
        return recorded;
      },
      (tx, recorded) => purchaseTriggerEvents(tx, recorded.created),
    );
    const created = result.created.length;
    // Clicks still in a tracking buffer when the transaction ran are attributed by their own
    // flush; those stored meanwhile, by this second pass over the committed lines.
    // The lines are stored: a failure here must not answer 500 (a retry would find them
    // `existing` and attribute nothing). It is logged; the tracking side still attributes them.
    await attributeCommittedPurchases(
      c.var.deps.sql,
      result.created.map((p) => p.id),
    ).catch((error: unknown) =>
      c.var.deps.logger.warn({ err: error, lines: created }, 'attribution after commit failed'),
    );
    // The buyers' recommendations (what they bought is left out, replenishment restarts):
    // queued after the commit so the refresh reads the lines; a burst makes one refresh.
    const buyers = result.created.filter((p) => p.kind === 'purchase').map((p) => p.customer_id);
    const { jobs } = c.var.deps;
    if (jobs && buyers.length > 0) {
      await enqueueCustomerRefresh(jobs, buyers).catch((error: unknown) =>
        c.var.deps.logger.warn({ err: error }, 'queueing the buyers’ recommendations refresh failed'),
      );
    }
    return c.json(
      { data: result.lines, created, existing: result.lines.length - created },
      created > 0 ? 201 : 200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const cursor = decodeCursor(query.cursor, CursorShape);
    const { sql } = c.var.deps;
    if (!(await customerState(sql, id))) throw notFound('Customer');
    const rows = await selectCustomerPurchases(sql, { customerId: id, limit: query.limit, before: cursor });
    const hasMore = rows.length > query.limit;
    const data = hasMore ? rows.slice(0, query.limit) : rows;
    const last = data[data.length - 1];
    await audit(c, { action: 'purchase.read', entity: 'customer', entity_id: id, customer_id: id });
    return c.json(
      {
        data: data.map(toPurchase),
        next_cursor: hasMore && last ? encodeCursor({ at: last.at_key, id: last.id }) : null,
      },
      200,
    );
  });
}
