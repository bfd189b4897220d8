import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { audit } from '../http/audit.js';
import { NDJSON, readBatchBody } from '../http/batch-body.js';
import type { App, AppEnv } from '../http/env.js';
import { isoDateTime } from '../http/fields.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
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
import { optInPolicy } from '../opt-in/requests.js';
import { erasePersonalData } from '../privacy/erase.js';
import { settleInFlightSends } from '../privacy/in-flight.js';
import { purgeJobs } from '../privacy/jobs.js';
import { customerRedactor } from '../privacy/sensitive-read.js';
import { withDeadline } from '../queue/deadline.js';
import { customerCreatedTriggerEvents, inTransactionThenFire } from '../triggers/events.js';
import { checkAttributes, loadAttributeRegistry } from './attributes.js';
import { applyConsentShorthand } from './consents.js';
import { CustomerInputSchema, CustomerPatchSchema, CustomerSchema, PROFILE_COLUMNS } from './schema.js';
import { toCustomer } from './serialize.js';
import { listCustomerRows, lockCustomer, patchCustomerRow, selectCustomer } from './store.js';
import { singlePath, upsertCustomerBatch, upsertCustomers } from './upsert.js';

export const MAX_BATCH = 10_000;

const SENSITIVE_NOTE =
  ' Special-category attributes (health, political opinions…) are included only for roles granted `sensitive:read` (SENSITIVE_READ_ROLES, admin by default) and omitted for the others.';

const BatchResultSchema = z
  .object({
    data: z.array(
      z.object({
        index: z.number().int(),
        id: z.number().int(),
        external_id: z.string(),
        status: z.enum(['created', 'updated']),
      }),
    ),
    created: z.number().int(),
    updated: z.number().int(),
  })
  .openapi('CustomerBatchResult');

export const CustomerPage = z
  .object({ data: z.array(CustomerSchema), next_cursor: z.string().nullable() })
  .openapi('CustomerPage');

const upsertRoute = defineRoute({
  method: 'post',
  path: '/v1/customers',
  tags: ['customers'],
  summary: 'Create or update a customer by external_id',
  description:
    'Fields present are written (null clears a field), absent fields are kept. `attributes` merge key by key. `consents` appends to the consent ledger when it changes the current state.',
  roles: ACCESS.customerWrite,
  request: { body: jsonBody(CustomerInputSchema) },
  responses: {
    201: jsonResponse(CustomerSchema, 'Created'),
    200: jsonResponse(CustomerSchema, 'Updated'),
  },
});

const batchRoute = defineRoute({
  method: 'post',
  path: '/v1/customers/batch',
  tags: ['customers'],
  summary: 'Upsert up to 10,000 customers at once (JSON array or NDJSON)',
  description:
    'Validated as a whole: if any row is bad, the answer is 422 listing every bad row by index (`errors[].index`, `path` such as `3.email`) and nothing is written. Duplicate external_id values inside one batch are errors.',
  roles: ACCESS.integration,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'array',
            maxItems: MAX_BATCH,
            items: { $ref: '#/components/schemas/CustomerInput' },
          },
        },
        [NDJSON]: { schema: { type: 'string', description: 'One CustomerInput JSON object per line' } },
      },
    },
  },
  responses: {
    201: jsonResponse(BatchResultSchema, 'Written; at least one customer was created'),
    200: jsonResponse(BatchResultSchema, 'Written; every customer already existed'),
  },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}',
  tags: ['customers'],
  summary: 'Read a customer',
  description: `The profile as stored.${SENSITIVE_NOTE}`,
  roles: ACCESS.customerRead,
  request: { params: IdParam },
  responses: { 200: jsonResponse(CustomerSchema, 'The customer'), ...notFoundResponse },
});

const patchRoute = defineRoute({
  method: 'patch',
  path: '/v1/customers/{id}',
  tags: ['customers'],
  summary: 'Change some fields of a customer',
  roles: ACCESS.customerWrite,
  request: { params: IdParam, body: jsonBody(CustomerPatchSchema) },
  responses: { 200: jsonResponse(CustomerSchema, 'Updated'), ...notFoundResponse, ...conflictResponse },
});

const deleteRoute = defineRoute({
  method: 'delete',
  path: '/v1/customers/{id}',
  tags: ['customers'],
  summary: 'Erase a customer (right to be forgotten)',
  description:
    'Clears every personal field, consent IPs, sources and text versions, and free text of the contact history; erases with them the social leads of the person’s handles (messages that arrived before the handle was on the profile); keeps the rows, purchases and events for reports; suppresses the address.',
  roles: ACCESS.admin,
  request: { params: IdParam },
  responses: { 204: { description: 'Erased' }, ...notFoundResponse },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/v1/customers',
  tags: ['customers'],
  summary: 'List customers (id order, cursor paged)',
  description: `Profiles as stored.${SENSITIVE_NOTE}`,
  roles: ACCESS.customerRead,
  request: {
    query: z.object({
      ...PageQuery,
      email: z.string().max(254).optional().openapi({ description: 'Exact address, any case' }),
      updated_since: isoDateTime()
        .optional()
        .openapi({ description: 'Only customers updated at or after this instant' }),
    }),
  },
  responses: { 200: jsonResponse(CustomerPage, 'A page of customers') },
});

const CursorShape = z.object({ id: z.number().int().positive() });

/** Customers as the caller's role may see them (special categories only with `sensitive:read`). */
const redactorFor = (c: Context<AppEnv>) =>
  customerRedactor(c.var.deps.sql, c.var.deps.config, c.var.auth.role);

const createdIdsOf = (written: readonly { id: number; status: string }[]) =>
  written.filter((r) => r.status === 'created').map((r) => r.id);

export function registerCustomerCrud(app: App): void {
  app.openapi(upsertRoute, async (c) => {
    const input = c.req.valid('json');
    const row = await inTransactionThenFire(
      c.var.deps,
      async (tx) => {
        const [result] = await upsertCustomers(tx, [input], singlePath, optInPolicy(c.var.deps.config));
        const fields = PROFILE_COLUMNS.filter((k) => input[k] !== undefined);
        await audit(
          c,
          {
            action: result!.status === 'created' ? 'customer.create' : 'customer.update',
            entity: 'customer',
            entity_id: result!.id,
            customer_id: result!.id,
            data: { fields, ...(input.consents ? { consents: input.consents } : {}) },
          },
          tx,
        );
        return { status: result!.status, customer: (await selectCustomer(tx, result!.id))! };
      },
      (tx, done) => customerCreatedTriggerEvents(tx, done.status === 'created' ? [done.customer.id] : []),
    );
    const shown = await redactorFor(c);
    return c.json(shown(toCustomer(row.customer)), row.status === 'created' ? 201 : 200);
  });

  app.openapi(batchRoute, async (c) => {
    const values = await readBatchBody(c, { max: MAX_BATCH });
    const results = await inTransactionThenFire(
      c.var.deps,
      async (tx) => {
        const written = await upsertCustomerBatch(tx, values, optInPolicy(c.var.deps.config));
        // One audit row per batch (the ids are in it): per-customer rows would double the write.
        const ids = (status: 'created' | 'updated') =>
          written.filter((r) => r.status === status).map((r) => r.id);
        await audit(
          c,
          {
            action: 'customer.batch_upsert',
            entity: 'customer',
            data: { created: ids('created'), updated: ids('updated') },
          },
          tx,
        );
        return written;
      },
      (tx, written) => customerCreatedTriggerEvents(tx, createdIdsOf(written)),
    );
    const created = createdIdsOf(results).length;
    return c.json({ data: results, created, updated: results.length - created }, created > 0 ? 201 : 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const row = await selectCustomer(c.var.deps.sql, id);
    if (!row) throw notFound('Customer');
    await audit(c, { action: 'customer.read', entity: 'customer', entity_id: id, customer_id: id });
    const shown = await redactorFor(c);
    return c.json(shown(toCustomer(row)), 200);
  });

  app.openapi(patchRoute, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const fields = PROFILE_COLUMNS.filter((k) => input[k] !== undefined);
    if (fields.length === 0 && input.external_id === undefined && input.consents === undefined) {
      throw invalid([{ path: '', in: 'body', message: 'send at least one field to change' }]);
    }
    const { sql } = c.var.deps;
    const row = await sql.begin(async (tx) => {
      const state = await lockCustomer(tx, id);
      if (!state) throw notFound('Customer');
      if (state.erased) throw conflict('This customer was erased and cannot be changed', 'erased');
      if (input.attributes) {
        const errors = checkAttributes(await loadAttributeRegistry(tx), input.attributes, 'attributes');
        if (errors.length > 0) throw invalid(errors);
      }
      const { consents, external_id, ...profile } = input;
      const updated = await patchCustomerRow(tx, id, JSON.stringify(profile), external_id, fields);
      if (consents) {
        await applyConsentShorthand(
          tx,
          Object.entries(consents).map(([purpose, granted]) => ({ customer_id: id, purpose, granted })),
          'customer_upsert',
          optInPolicy(c.var.deps.config),
        );
      }
      await audit(
        c,
        {
          action: 'customer.update',
          entity: 'customer',
          entity_id: id,
          customer_id: id,
          data: {
            fields: external_id === undefined ? fields : ['external_id', ...fields],
            ...(consents ? { consents } : {}),
          },
        },
        tx,
      );
      return updated!;
    });
    const shown = await redactorFor(c);
    return c.json(shown(toCustomer(row)), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, config, clock, jobs } = c.var.deps;
    const erased = await sql.begin(async (tx) => {
      const result = await erasePersonalData(tx, { id, secret: config.OFFERFLOW_SECRET, at: clock() });
      if (!result.found) throw notFound('Customer');
      await audit(
        c,
        [
          { action: 'customer.erase', entity: 'customer', entity_id: id, customer_id: id },
          ...result.leadsErased.map((lead) => ({
            action: 'customer.erase',
            entity: 'customer',
            entity_id: lead,
            customer_id: lead,
            data: { linked_lead_of: id },
          })),
        ],
        tx,
      );
      return result;
    });
    // Best effort with a deadline: Redis being down must not hold the answer; a job left behind
    // finds its row cancelled and sends nothing.
    await withDeadline(purgeJobs(jobs, erased.jobs), 2000);
    if (!(await settleInFlightSends(sql, id))) {
      c.var.log.warn({ customer: id }, 'erasure answered while a send to the customer was still in flight');
    }
    return c.body(null, 204);
  });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const cursor = decodeCursor(query.cursor, CursorShape);
    const rows = await listCustomerRows(c.var.deps.sql, {
      afterId: cursor?.id ?? 0,
      limit: query.limit,
      email: query.email,
      updatedSince: query.updated_since,
    });
    const result = page(rows, query.limit, (r) => ({ id: r.id }));
    await audit(c, {
      action: 'customer.list',
      entity: 'customer',
      data: {
        count: result.data.length,
        ...(query.email !== undefined ? { email_filter: true } : {}),
        ...(query.updated_since ? { updated_since: query.updated_since } : {}),
      },
    });
    const shown = await redactorFor(c);
    return c.json(
      { data: result.data.map((r) => shown(toCustomer(r))), next_cursor: result.next_cursor },
      200,
    );
  });
}
