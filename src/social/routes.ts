import { z } from '@hono/zod-openapi';
import { INTERACTION_CHANNELS } from '../customers/events.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { isoDateTime, requiredText, slug, text } from '../http/fields.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse } from '../http/route.js';
import { inTransactionThenFire } from '../triggers/events.js';
import { recordSocialMessage, socialTriggerEvents } from './inbound.js';

const SocialInboundSchema = z
  .strictObject({
    channel: slug(32).openapi({
      example: 'instagram',
      description: `e.g. ${INTERACTION_CHANNELS.join(', ')}`,
    }),
    handle: requiredText(200)
      .refine((h) => h.trim().replace(/^@+/, '').length > 0, 'must not be empty')
      .openapi({ example: '@anna' }),
    text: text(10_000).openapi({ example: 'Do you have the blue one in size 38?' }),
    url: z
      .url({ message: 'must be a URL' })
      .max(2000)
      .optional()
      .openapi({ example: 'https://instagram.com/p/xyz' }),
    at: isoDateTime().optional().openapi({ description: 'When it was posted; now when absent' }),
  })
  .openapi('SocialInbound');

const SocialResultSchema = z
  .object({
    customer_id: z.number().int(),
    matched: z.boolean().openapi({ description: 'An existing customer’s handle' }),
    lead_created: z.boolean().openapi({ description: 'A lead was created for an unknown handle' }),
    event_id: z.number().int().openapi({ description: 'The `social` contact event' }),
  })
  .openapi('SocialInboundResult');

export function registerSocialRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/inbound/social',
      roles: ACCESS.integration,
      tags: ['Social'],
      summary: 'A social message or comment relayed by an integration: matched to a customer or a new lead',
      request: { body: jsonBody(SocialInboundSchema) },
      responses: { 201: jsonResponse(SocialResultSchema, 'Recorded on the contact history') },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { result } = await inTransactionThenFire(
        c.var.deps,
        async (tx) => {
          const recorded = await recordSocialMessage(tx, body);
          await audit(
            c,
            {
              action: 'social.inbound',
              entity: 'contact_event',
              entity_id: recorded.result.event_id,
              customer_id: recorded.result.customer_id,
              data: { channel: body.channel, lead_created: recorded.result.lead_created },
            },
            tx,
          );
          return recorded;
        },
        (tx, recorded) => socialTriggerEvents(tx, recorded.event),
      );
      return c.json(result, 201);
    },
  );
}
