import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import { clientIp } from '../http/client-ip.js';
import type { App } from '../http/env.js';
import { requiredText, slug, text } from '../http/fields.js';
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
import { optInPolicy, requestOptIns } from '../opt-in/requests.js';
import { consentHistory, recordConsent } from './consents.js';
import { toConsent } from './serialize.js';
import { customerState, lockCustomer } from './store.js';

const ConsentInput = z
  .strictObject({
    purpose: slug().openapi({
      example: 'marketing_email',
      description: '`marketing_email`, `profiling`, or a sensitive attribute’s purpose',
    }),
    granted: z.boolean(),
    source: requiredText(100).openapi({
      example: 'web_form',
      description: 'Where the decision was collected',
    }),
    text_version: text(100)
      .optional()
      .openapi({ description: 'Version of the consent text shown', example: '2025-01' }),
  })
  .openapi('ConsentInput');

const ConsentSchema = z
  .object({
    id: z.number().int(),
    purpose: z.string(),
    granted: z.boolean(),
    source: z.string(),
    text_version: z.string().nullable(),
    ip: z.string().nullable(),
    at: z.string(),
  })
  .openapi('Consent');

export const ConsentHistory = z
  .object({
    data: z.array(ConsentSchema),
    current: z.record(z.string(), z.object({ granted: z.boolean(), source: z.string(), at: z.string() })),
  })
  .openapi('ConsentHistory');

const PendingOptIn = z
  .object({
    status: z.literal('confirmation_pending'),
    purpose: z.literal('marketing_email'),
    opt_in_request_id: z.number().int().nullable().openapi({
      description:
        'The confirmation request mailed (null: one is already open, or consent is already granted)',
    }),
  })
  .openapi('PendingOptIn');

const postRoute = defineRoute({
  method: 'post',
  path: '/v1/customers/{id}/consents',
  tags: ['consents'],
  summary: 'Record a consent decision (appended to the ledger)',
  description:
    'The client IP is the connection’s peer, or taken from X-Forwarded-For when the peer is one of `TRUSTED_PROXIES`. ' +
    'Under MARKETING_LEGAL_BASIS=double_opt_in a marketing_email grant is not recorded: the address is mailed a ' +
    'confirmation link, and the grant is recorded (with time, IP, text version and source) when the link is confirmed (202).',
  roles: ACCESS.customerWrite,
  request: { params: IdParam, body: jsonBody(ConsentInput) },
  responses: {
    201: jsonResponse(ConsentSchema, 'Recorded'),
    202: jsonResponse(PendingOptIn, 'Confirmation mailed (double opt-in)'),
    ...notFoundResponse,
    ...conflictResponse,
  },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/v1/customers/{id}/consents',
  tags: ['consents'],
  summary: 'Consent history (newest first) and the current decision per purpose',
  roles: ACCESS.customerRead,
  request: { params: IdParam },
  responses: { 200: jsonResponse(ConsentHistory, 'History'), ...notFoundResponse },
});

export function registerConsentRoutes(app: App): void {
  app.openapi(postRoute, async (c) => {
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const policy = optInPolicy(c.var.deps.config);
    if (policy.doubleOptIn && input.purpose === 'marketing_email' && input.granted) {
      const requested = await sql.begin(async (tx) => {
        const state = await lockCustomer(tx, id);
        if (!state) throw notFound('Customer');
        if (state.erased) throw conflict('This customer was erased', 'erased');
        const ip = clientIp(c) ?? null;
        const [requestId] = await requestOptIns(tx, policy, [{ customer_id: id, ...input, ip }]);
        await audit(
          c,
          {
            action: 'consent.opt_in_requested',
            entity: 'customer',
            entity_id: id,
            customer_id: id,
            data: { source: input.source },
          },
          tx,
        );
        return requestId ?? null;
      });
      return c.json(
        {
          status: 'confirmation_pending' as const,
          purpose: 'marketing_email' as const,
          opt_in_request_id: requested,
        },
        202,
      );
    }
    const row = await sql.begin(async (tx) => {
      const state = await lockCustomer(tx, id);
      if (!state) throw notFound('Customer');
      if (state.erased) throw conflict('This customer was erased', 'erased');
      const consent = await recordConsent(tx, {
        customer_id: id,
        ...input,
        ip: clientIp(c) ?? null,
        at: clock(),
      });
      await audit(
        c,
        {
          action: 'consent.create',
          entity: 'consent',
          entity_id: consent.id,
          customer_id: id,
          // Field names, never their values: `source` and `text_version` are free text.
          data: {
            purpose: input.purpose,
            granted: input.granted,
            fields: ['source', ...(input.text_version !== undefined ? ['text_version'] : [])],
          },
        },
        tx,
      );
      return consent;
    });
    return c.json(toConsent(row), 201);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql } = c.var.deps;
    if (!(await customerState(sql, id))) throw notFound('Customer');
    const { history, current } = await consentHistory(sql, id);
    await audit(c, { action: 'consent.read', entity: 'customer', entity_id: id, customer_id: id });
    const currentJson = Object.fromEntries(
      Object.entries(current).map(([purpose, v]) => [purpose, { ...v, at: v.at.toISOString() }]),
    );
    return c.json({ data: history.map(toConsent), current: currentJson }, 200);
  });
}
