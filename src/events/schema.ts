import { z } from '@hono/zod-openapi';
import { text } from '../http/fields.js';

// The event contract, shaped like the Segment spec (https://segment.com/docs/connections/spec/)
// so that a Segment or RudderStack webhook destination posts to it unchanged: fields Offerflow
// does not use (context, integrations, sentAt, version…) are accepted and ignored.

/** Segment ids may be strings or numbers; both are kept as text. */
const id = (max: number) =>
  z
    .union([text(max).min(1, 'must not be empty'), z.number()])
    .transform((v) => String(v))
    .openapi({ type: 'string' });

/** A timestamp JavaScript can read (also checked by the compiled validation, validate.ts). */
export const isTimestamp = (v: string) => !Number.isNaN(Date.parse(v));
/** An event name without leading or trailing spaces (also checked by validate.ts). */
export const isTrimmed = (v: string) => v.trim() === v;

const timestamp = z
  .string()
  .max(64)
  .refine(isTimestamp, 'must be an ISO 8601 date-time')
  .openapi({ format: 'date-time', example: '2026-03-01T10:00:00Z' });

/** Free JSON properties or traits (at most 64 KiB once serialised, checked by the ingestion). */
const bag = z.record(z.string().max(200), z.unknown());

const common = {
  userId: id(200)
    .nullable()
    .optional()
    .openapi({ description: 'The customer’s external_id', example: 'crm-1042' }),
  anonymousId: id(200).nullable().optional().openapi({
    description: 'A visitor not known yet; a later identify with userId merges it into the customer',
  }),
  email: z
    .email({ message: 'must be an email address' })
    .max(254)
    .optional()
    .openapi({ description: 'Finds (or creates as a lead) the customer by email when there is no userId' }),
  timestamp: timestamp.optional().openapi({ description: 'When it happened; now when absent' }),
  messageId: id(200)
    .optional()
    .openapi({ description: 'Unique per event: posting it again changes nothing (idempotency key)' }),
  context: bag.optional(),
};

export const TrackEventSchema = z
  .object({
    type: z.literal('track'),
    event: text(200)
      .min(1, 'must not be empty')
      .refine(isTrimmed, 'must not start or end with spaces')
      .openapi({ example: 'cart_updated' }),
    properties: bag
      .optional()
      .openapi({ example: { cart_url: 'https://shop.example/cart/42', value: 59.9 } }),
    ...common,
  })
  .openapi('TrackEvent');

export const IdentifyEventSchema = z
  .object({
    type: z.literal('identify'),
    traits: bag.optional().openapi({
      description:
        'Profile fields (email, first_name or firstName, last_name or lastName, locale, timezone, birth_date…) and declared attributes; other traits are ignored',
      example: { email: 'ana@example.com', firstName: 'Ana', loyalty_tier: 'gold' },
    }),
    ...common,
  })
  .openapi('IdentifyEvent');

/** page and screen are recorded as events named `page` and `screen` (their name in properties). */
export const PageEventSchema = z
  .object({
    type: z.enum(['page', 'screen']),
    name: text(200).optional(),
    properties: bag.optional(),
    ...common,
  })
  .openapi('PageEvent');

/** group and alias calls are accepted (a Segment destination sends every call) and ignored. */
export const IgnoredEventSchema = z
  .object({ type: z.enum(['group', 'alias']), ...common })
  .passthrough()
  .openapi('IgnoredEvent');

export const EventInputSchema = z
  .discriminatedUnion('type', [TrackEventSchema, IdentifyEventSchema, PageEventSchema, IgnoredEventSchema])
  .openapi('EventInput');
export type EventInput = z.infer<typeof EventInputSchema>;

export const EventResultSchema = z
  .object({
    data: z.array(
      z.object({
        index: z.number().int(),
        type: z.string(),
        status: z.enum(['created', 'existing', 'identified', 'ignored']),
        customer_id: z.number().int().nullable(),
        event_id: z.number().int().nullable(),
        message_id: z.string().nullable(),
        reason: z.string().optional(),
      }),
    ),
    created: z.number().int(),
    existing: z.number().int(),
    identified: z.number().int(),
    leads_created: z
      .number()
      .int()
      .openapi({ description: 'Customers created as leads (no consent implied)' }),
  })
  .openapi('EventIngestResult');
export type EventResult = z.infer<typeof EventResultSchema>;

export const PROPERTY_TYPES = ['string', 'number', 'boolean', 'object', 'array', 'null'] as const;

export const EventPropertySchema = z
  .object({
    type: z.enum(PROPERTY_TYPES).optional(),
    description: text(1000).nullable().optional(),
    sensitive: z.boolean().optional().openapi({
      description:
        'A special category or otherwise personal: never sent in webhooks, hidden from roles without sensitive:read',
    }),
  })
  .strict();

export const EventTypeInputSchema = z
  .strictObject({
    name: text(200).min(1, 'must not be empty').openapi({ example: 'cart_updated' }),
    description: text(1000).nullable().optional(),
    properties: z
      .record(text(200).min(1), EventPropertySchema)
      .refine((r) => Object.keys(r).length <= 200, 'at most 200 properties')
      .optional()
      .openapi({ example: { cart_url: { type: 'string', description: 'Where the cart is' } } }),
  })
  .openapi('EventTypeInput');

export const EventTypeSchema = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    declared: z.boolean().openapi({ description: 'Described through POST /v1/event-types (not only seen)' }),
    properties: z.array(
      z.object({
        name: z.string(),
        type: z.string().nullable(),
        description: z.string().nullable(),
        sensitive: z.boolean(),
      }),
    ),
    count: z.number().int().openapi({ description: 'Events received' }),
    first_seen_at: z.string().nullable(),
    last_seen_at: z.string().nullable(),
  })
  .openapi('EventType');
export type EventType = z.infer<typeof EventTypeSchema>;

export const StoredEventSchema = z
  .object({
    id: z.number().int(),
    customer_id: z.number().int(),
    name: z.string(),
    properties: z.record(z.string(), z.unknown()),
    message_id: z.string(),
    at: z.string(),
    received_at: z.string(),
  })
  .openapi('StoredEvent');
