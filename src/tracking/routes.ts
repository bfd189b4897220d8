import { z } from '@hono/zod-openapi';
import { clientIp } from '../http/client-ip.js';
import type { App } from '../http/env.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { checkOptIn, confirmOptIn } from '../opt-in/confirm.js';
import { recordDeliveryFailure } from './bounces.js';
import { NO_STORE } from './fast-path.js';
import {
  confirmPage,
  donePage,
  expiredPreferencesPage,
  notFoundPage,
  optInDonePage,
  optInExpiredPage,
  optInPage,
  preferencesPage,
} from './pages.js';
import {
  loadPreferences,
  preferencesLinkLive,
  resolveUnsubscribe,
  savePreferences,
  unsubscribe,
} from './unsubscribe.js';

const target = z.object({
  message_id: z
    .number()
    .int()
    .positive()
    .max(2 ** 53 - 1)
    .optional()
    .openapi({ description: 'The message that failed' }),
  email: z
    .email()
    .max(320)
    .optional()
    .openapi({ description: 'The address, when the message id is unknown' }),
  reason: z.string().max(2000).optional().openapi({ example: '550 5.1.1 user unknown' }),
  at: z.iso.datetime({ offset: true }).optional().openapi({ description: 'When it happened (default now)' }),
});
const oneTarget = (v: { message_id?: number | undefined; email?: string | undefined }) =>
  (v.message_id === undefined) !== (v.email === undefined);
const oneTargetError = { message: 'give exactly one of message_id and email', path: ['message_id'] };

const BounceBody = z
  .strictObject({
    ...target.shape,
    type: z.enum(['hard', 'soft']).openapi({ description: 'hard suppresses the address' }),
  })
  .refine(oneTarget, oneTargetError)
  .openapi('Bounce');
const ComplaintBody = z
  .strictObject({
    ...target.shape,
    feedback_type: z.string().max(100).optional().openapi({ example: 'abuse' }),
  })
  .refine(oneTarget, oneTargetError)
  .openapi('Complaint');
const FailureResult = z
  .object({
    kind: z.enum(['bounced', 'complained']),
    events: z.number().int().openapi({ description: 'Contact events recorded' }),
    customer_ids: z.array(z.number().int()),
    suppressed: z.boolean().openapi({ description: 'Whether the address is now suppressed' }),
  })
  .openapi('DeliveryFailureResult');

const bounces = defineRoute({
  method: 'post',
  path: '/v1/events/bounces',
  roles: ACCESS.integration,
  tags: ['tracking'],
  summary: 'Record a bounce (ESP webhook, DSN parser); a hard bounce suppresses the address',
  request: { body: jsonBody(BounceBody) },
  responses: { 201: jsonResponse(FailureResult, 'Recorded'), ...notFoundResponse },
});
const complaints = defineRoute({
  method: 'post',
  path: '/v1/events/complaints',
  roles: ACCESS.integration,
  tags: ['tracking'],
  summary: 'Record a spam complaint (feedback loop); suppresses the address',
  request: { body: jsonBody(ComplaintBody) },
  responses: { 201: jsonResponse(FailureResult, 'Recorded'), ...notFoundResponse },
});

/**
 * Unsubscribe and preference pages (outside /v1, no key: the signed token is the credential),
 * and the bounce and complaint webhooks. The open pixel and click redirect are served before
 * the app by `withTrackingFastPath` (fast-path.ts).
 */
export function registerTrackingRoutes(app: App): void {
  app.get('/u/:token', async (c) => {
    const resolved = await resolveUnsubscribe(c.var.deps, c.req.param('token'));
    if (!resolved) return c.html(notFoundPage(), 404, NO_STORE);
    const self = `/u/${c.req.param('token')}`;
    return c.html(confirmPage(self, `${self}/preferences`), 200, NO_STORE);
  });

  app.post('/u/:token', async (c) => {
    const resolved = await resolveUnsubscribe(c.var.deps, c.req.param('token'));
    if (!resolved) return c.html(notFoundPage(), 404, NO_STORE);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    // RFC 8058: the one-click POST carries exactly this field; the confirmation page sends it too.
    if (form['List-Unsubscribe'] !== 'One-Click') {
      return c.text('Send List-Unsubscribe=One-Click (application/x-www-form-urlencoded)', 400, NO_STORE);
    }
    await unsubscribe(c.var.deps, resolved.recipient, 'one_click');
    return c.html(donePage(), 200, NO_STORE);
  });

  app.get('/u/:token/preferences', async (c) => {
    const resolved = await resolveUnsubscribe(c.var.deps, c.req.param('token'));
    if (!resolved?.recipient || resolved.recipient.erased) return c.html(notFoundPage(), 404, NO_STORE);
    if (!preferencesLinkLive(c.var.deps, resolved.recipient)) {
      return c.html(expiredPreferencesPage(`/u/${c.req.param('token')}`), 410, NO_STORE);
    }
    const prefs = await loadPreferences(c.var.deps, resolved.recipient);
    return c.html(preferencesPage(c.req.path, prefs, false), 200, NO_STORE);
  });

  app.post('/u/:token/preferences', async (c) => {
    const resolved = await resolveUnsubscribe(c.var.deps, c.req.param('token'));
    if (!resolved?.recipient || resolved.recipient.erased) return c.html(notFoundPage(), 404, NO_STORE);
    if (!preferencesLinkLive(c.var.deps, resolved.recipient)) {
      return c.html(expiredPreferencesPage(`/u/${c.req.param('token')}`), 410, NO_STORE);
    }
    const form = await c.req.parseBody({ all: true }).catch(() => ({}) as Record<string, unknown>);
    const raw = form.topic;
    const topics = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (t): t is string => typeof t === 'string',
    );
    const prefs = await savePreferences(
      c.var.deps,
      resolved.recipient,
      { subscribed: form.subscribed === 'on', topics },
      { ip: clientIp(c) ?? null },
    );
    return c.html(preferencesPage(c.req.path, prefs, true, prefs.confirmationMailed), 200, NO_STORE);
  });

  // Double opt-in: the link in the confirmation mail. GET asks, POST confirms.
  app.get('/opt-in/:token', async (c) => {
    const state = await checkOptIn(c.var.deps, c.req.param('token'));
    if (state === 'invalid') return c.html(notFoundPage(), 404, NO_STORE);
    if (state === 'expired') return c.html(optInExpiredPage(), 410, NO_STORE);
    if (state === 'already' || state === 'confirmed') return c.html(optInDonePage('already'), 200, NO_STORE);
    return c.html(optInPage(c.req.path), 200, NO_STORE);
  });

  app.post('/opt-in/:token', async (c) => {
    const outcome = await confirmOptIn(c.var.deps, c.req.param('token'), {
      ip: clientIp(c) ?? null,
      userAgent: c.req.header('user-agent') ?? null,
    });
    if (outcome === 'invalid') return c.html(notFoundPage(), 404, NO_STORE);
    if (outcome === 'expired') return c.html(optInExpiredPage(), 410, NO_STORE);
    return c.html(optInDonePage(outcome), 200, NO_STORE);
  });

  app.openapi(bounces, async (c) => {
    const body = c.req.valid('json');
    const result = await recordDeliveryFailure(c.var.deps, 'bounced', body);
    return c.json({ kind: 'bounced' as const, ...result }, 201);
  });

  app.openapi(complaints, async (c) => {
    const { feedback_type, ...body } = c.req.valid('json');
    const result = await recordDeliveryFailure(c.var.deps, 'complained', {
      ...body,
      reason: [feedback_type, body.reason].filter(Boolean).join(': ') || undefined,
    });
    return c.json({ kind: 'complained' as const, ...result }, 201);
  });
}
