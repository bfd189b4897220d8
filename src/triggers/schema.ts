import { z } from '@hono/zod-openapi';
import { HoldoutPercent } from '../holdouts/schema.js';
import { requiredText, slug } from '../http/fields.js';
import { RankerInput, RankerSchema } from '../offers/schema.js';
import { MessageCategorySchema, MessagePrioritySchema } from '../policy/schema.js';

// The trigger contract. One schema validates creation and (made partial) PATCH bodies.

export const TRIGGER_EVENTS = [
  'purchase',
  'customer_created',
  'inactive_for',
  'birthday',
  'date_attribute',
  'social_message',
  // A custom event (POST /v1/events) named by params.event_name.
  'event',
] as const;

export const ParamsSchema = z
  .strictObject({
    days: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .openapi({ description: 'inactive_for: days without a purchase', example: 90 }),
    attribute: slug().optional().openapi({
      description: 'date_attribute: the customer attribute holding a date',
      example: 'contract_end',
    }),
    event_name: requiredText(200).optional().openapi({
      description: 'event: the custom event it fires on (POST /v1/events), e.g. cart_updated',
      example: 'cart_updated',
    }),
    offset_days: z.number().int().min(-366).max(366).optional().openapi({
      description: 'date_attribute: fire this many days after (negative: before) the date',
      example: -7,
    }),
  })
  .openapi('TriggerParams');

export const DelaySchema = z
  .strictObject({
    hours: z
      .number()
      .min(0)
      .max(24 * 366)
      .optional()
      .openapi({ description: 'Send this many hours after the event', example: 48 }),
    at_local_hour: z.number().int().min(0).max(23).nullable().optional().openapi({
      description: 'Then at this hour of the customer’s local day (their timezone, UTC if unknown)',
      example: 10,
    }),
  })
  .openapi('TriggerDelay');

const fields = {
  name: requiredText(200).openapi({ example: 'Thank you + complementary offers' }),
  event: z.enum(TRIGGER_EVENTS).openapi({ example: 'purchase' }),
  params: ParamsSchema.optional(),
  filter: z
    .unknown()
    .optional()
    .openapi({
      description: 'JSON Logic over `{event, customer}` (customer: the rule context); null or absent: always',
      example: { '>=': [{ var: 'event.purchase.amount' }, 50] },
    }),
  delay: DelaySchema.optional(),
  template_id: z.number().int().positive().openapi({ example: 1 }),
  template_version: z
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: 'Pinned at save to the latest version when absent' }),
  offers_per_email: z.number().int().min(0).max(20).optional().openapi({ example: 2 }),
  sender_id: z.number().int().positive().nullable().optional().openapi({
    description: 'The sender identity (GET /v1/senders) it goes out from; null or absent: the default sender',
    example: 1,
  }),
  cancel_on_purchase: z.boolean().optional().openapi({
    description: 'A later purchase by the customer cancels a message not sent yet (replenish reminders)',
  }),
  holdout_percent: HoldoutPercent.optional(),
  ranker: RankerInput.optional().openapi({
    description:
      'How its offers are ranked, as a campaign’s: `priority`, or `learning` (or the object with objective, segment_cells, exploration)',
  }),
  transactional: z.boolean().optional().openapi({
    description:
      'Transactional mail (a receipt, a confirmation) reaches the global control group too; default false: promotional. The same as `category: transactional`',
  }),
  category: MessageCategorySchema.optional(),
  priority: MessagePrioritySchema.optional(),
  enabled: z.boolean().optional(),
};

/** Parameters each scheduled event needs. */
function checkParams(
  body: {
    event?: (typeof TRIGGER_EVENTS)[number] | undefined;
    params?: z.infer<typeof ParamsSchema> | undefined;
  },
  ctx: z.RefinementCtx,
) {
  if (!body.event) return;
  const p = body.params ?? {};
  if (body.event === 'inactive_for' && p.days === undefined) {
    ctx.addIssue({ code: 'custom', path: ['params', 'days'], message: 'inactive_for needs days' });
  }
  if (body.event === 'event' && p.event_name === undefined) {
    ctx.addIssue({ code: 'custom', path: ['params', 'event_name'], message: 'event needs event_name' });
  }
  if (body.event === 'date_attribute' && p.attribute === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['params', 'attribute'],
      message: 'date_attribute needs attribute',
    });
  }
}

export const TriggerCreateSchema = z.strictObject(fields).superRefine(checkParams).openapi('TriggerInput');

export const TriggerPatchSchema = z.strictObject(fields).partial().openapi('TriggerPatch');

export type TriggerCreate = z.infer<typeof TriggerCreateSchema>;
export type TriggerPatch = z.infer<typeof TriggerPatchSchema>;

export const TriggerSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    event: z.enum(TRIGGER_EVENTS),
    params: z.record(z.string(), z.unknown()),
    filter: z.unknown().nullable(),
    delay: z.object({ hours: z.number(), at_local_hour: z.number().int().nullable() }),
    template_id: z.number().int(),
    template_version: z.number().int().nullable(),
    offers_per_email: z.number().int(),
    sender_id: z.number().int().nullable(),
    cancel_on_purchase: z.boolean(),
    holdout_percent: z.number(),
    ranker: RankerSchema,
    transactional: z.boolean(),
    category: MessageCategorySchema,
    priority: z.number().int(),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
    messages: z
      .record(z.string(), z.number().int())
      .optional()
      .openapi({ description: 'This trigger’s messages by status (single-trigger reads)' }),
  })
  .openapi('Trigger');

export const SettingsSchema = z
  .strictObject({
    max_messages: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .openapi({ description: 'At most this many automated emails…', example: 3 }),
    days: z
      .number()
      .int()
      .min(1)
      .max(365)
      .openapi({ description: '…per customer in this many days', example: 7 }),
  })
  .openapi('TriggerSettings');

export const PreviewInputSchema = z
  .strictObject({
    customer_id: z.number().int().positive().openapi({ example: 42 }),
    event: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({
        description: 'The event’s fields; absent for a purchase trigger: the customer’s latest order',
        example: { amount: 80 },
      }),
  })
  .openapi('TriggerPreviewInput');

export const PreviewSchema = z
  .object({
    fires: z.boolean().openapi({ description: 'A message would be queued' }),
    reasons: z.array(z.string()).openapi({
      description:
        'Why not, in the order checked: disabled, filter, already_fired, a suppression reason, capped',
    }),
    event_key: z.string(),
    event: z.record(z.string(), z.unknown()),
    filter: z.object({ passed: z.boolean(), error: z.string().nullable() }),
    already_fired: z.boolean(),
    suppressed_reason: z.string().nullable(),
    cap: z.object({
      recent: z.number().int(),
      max_messages: z.number().int(),
      days: z.number().int(),
      capped: z.boolean(),
    }),
    send_at: z.string(),
    offers: z.array(z.object({ offer_id: z.number().int(), name: z.string(), title: z.string() })),
  })
  .openapi('TriggerPreview');
