import { z } from '@hono/zod-openapi';
import { HoldoutPercent } from '../holdouts/schema.js';
import { isoDateTime, requiredText, text } from '../http/fields.js';
import { RankerInput, RankerSchema } from '../offers/schema.js';
import { MessageCategorySchema, MessagePrioritySchema } from '../policy/schema.js';

// The campaign contract. One schema validates creation and (made partial) PATCH bodies.

export const VariantSchema = z
  .strictObject({
    name: requiredText(50).openapi({ example: 'A' }),
    weight: z
      .number()
      .min(0)
      .max(1_000_000)
      .openapi({ description: 'Relative share of the audience', example: 50 }),
    subject: requiredText(500)
      .optional()
      .openapi({ description: 'Subject line (Handlebars) replacing the template version’s' }),
    template_version: z
      .number()
      .int()
      .positive()
      .optional()
      .openapi({ description: 'Template version to use instead of the campaign’s' }),
  })
  .openapi('CampaignVariant');

export const AttributionSchema = z
  .strictObject({
    click_days: z.number().int().min(0).max(90).openapi({ example: 7 }),
    open_days: z.number().int().min(0).max(90).openapi({ example: 1 }),
  })
  .openapi('Attribution', {
    description: 'How long after a click or open a purchase counts as a conversion',
  });

export const FromSchema = z
  .strictObject({
    address: z
      .email({ message: 'must be an email address' })
      .max(254)
      .openapi({ example: 'offers@shop.example' }),
    name: text(200).optional().openapi({ example: 'La Boutique' }),
  })
  .openapi('Sender');

export const AB_METRICS = ['open_rate', 'click_rate', 'conversion_rate', 'revenue_per_recipient'] as const;
export type AbMetric = (typeof AB_METRICS)[number];

export const AbTestSchema = z
  .strictObject({
    test_percent: z.number().min(1, 'must be between 1 and 50').max(50, 'must be between 1 and 50').openapi({
      description:
        'Share of the audience (%) in the test cell, chosen by a hash of (campaign, customer) and split across the variants by weight; the rest get the winner',
      example: 20,
    }),
    window_hours: z
      .number()
      .positive('must be more than 0')
      .max(720, 'must be at most 720 (30 days)')
      .openapi({
        description:
          'How long to wait after the last test message went out before choosing the winner (fractions allowed)',
        example: 4,
      }),
    metric: z.enum(AB_METRICS).openapi({
      description:
        'What the winner is chosen on, with human (non-machine) opens and clicks: the rates are over delivered messages, revenue per recipient over sent ones',
      example: 'click_rate',
    }),
    fallback_variant: requiredText(50).optional().openapi({
      description:
        'Sent to the rest when no variant is better at 95 % confidence; without it the best observed value wins',
    }),
  })
  .openapi('AbTest', {
    description:
      'Send the variants to a test cell only, then the winning variant to the rest of the audience after a window',
  });

export type AbTest = z.infer<typeof AbTestSchema>;

const fields = {
  name: requiredText(200).openapi({ example: 'Spring sale' }),
  segment_id: z.number().int().positive().nullable().optional().openapi({ example: 1 }),
  template_id: z.number().int().positive().nullable().optional().openapi({ example: 1 }),
  template_version: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .openapi({ description: 'Pinned at launch to the latest version when absent' }),
  offers_per_email: z.number().int().min(0).max(20).optional().openapi({ example: 3 }),
  holdout_percent: HoldoutPercent.optional(),
  ranker: RankerInput.optional(),
  send_at_best_hour: z.boolean().optional().openapi({
    description:
      'Send each customer’s mail at their best hour (from their own opens and clicks, shrunk toward everyone’s) within 24 hours of planning, in their timezone',
  }),
  category: MessageCategorySchema.optional(),
  priority: MessagePrioritySchema.optional(),
  variants: z
    .array(VariantSchema)
    .max(10, 'at most 10 variants')
    .optional()
    .superRefine((variants, ctx) => {
      const seen = new Set<string>();
      variants?.forEach((v, i) => {
        if (seen.has(v.name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'variant names must be unique' });
        seen.add(v.name);
      });
      if (variants && variants.length > 0 && variants.every((v) => v.weight === 0)) {
        ctx.addIssue({ code: 'custom', path: [], message: 'at least one variant needs a positive weight' });
      }
    }),
  schedule_at: isoDateTime()
    .nullable()
    .optional()
    .openapi({ description: 'Send at this time; now when absent' }),
  throttle_per_second: z
    .number()
    .int()
    .positive()
    .max(100_000)
    .nullable()
    .optional()
    .openapi({ description: 'At most this many messages per second, across all workers' }),
  attribution: AttributionSchema.optional(),
  from: FromSchema.nullable().optional(),
  sender_id: z.number().int().positive().nullable().optional().openapi({
    description: 'The sender identity (GET /v1/senders) it goes out from; null or absent: the default sender',
    example: 1,
  }),
  ab_test: AbTestSchema.nullable().optional().openapi({
    description: 'A/B test with winner send-out; needs two variants. Editable while draft or scheduled',
  }),
};

export const CampaignCreateSchema = z.strictObject(fields).openapi('CampaignCreate');
export const CampaignPatchSchema = z.strictObject(fields).partial().openapi('CampaignPatch');

export type CampaignCreate = z.infer<typeof CampaignCreateSchema>;
export type CampaignPatch = z.infer<typeof CampaignPatchSchema>;
export type Variant = z.infer<typeof VariantSchema>;

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'sent', 'paused', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'failed',
  'suppressed',
  'cancelled',
  'held',
] as const;

export const AB_PHASES = ['pending', 'testing', 'winner_chosen', 'cancelled'] as const;
export const AB_REASONS = [
  'significant',
  'not_significant',
  'fallback',
  'no_difference',
  'marketer_choice',
] as const;

export const AbStateSchema = z
  .object({
    phase: z.enum(AB_PHASES).openapi({
      description:
        'pending: not started; testing: the test cell is being sent or the window runs; winner_chosen: the rest get the winner',
    }),
    window_started_at: z
      .string()
      .nullable()
      .openapi({ description: 'When the last message of the test cell went out' }),
    window_ends_at: z.string().nullable(),
    winner: z.string().nullable(),
    reason: z.enum(AB_REASONS).nullable().openapi({
      description:
        'significant: better at 95 %; not_significant: no variant is, the best observed value won; fallback: no variant is, fallback_variant was sent; no_difference: the values were equal; marketer_choice: chosen with send-winner',
    }),
    detail: z.string().nullable().openapi({ example: 'B: click rate 12.0 % vs A 8.0 % (p = 0.012)' }),
    decided_at: z.string().nullable(),
    decided_by: z.enum(['window', 'marketer']).nullable(),
    p_value: z
      .number()
      .nullable()
      .openapi({ description: 'Leader against runner-up: two-proportion z-test, or Welch’s for revenue' }),
    observed: z
      .array(
        z.object({
          variant: z.string(),
          sent: z.number().int(),
          delivered: z.number().int(),
          value: z
            .number()
            .openapi({ description: 'The metric in the test cell when the winner was chosen' }),
        }),
      )
      .nullable(),
  })
  .openapi('AbState');

export type AbState = z.infer<typeof AbStateSchema>;

export const SendWinnerSchema = z
  .strictObject({
    variant: requiredText(50).optional().openapi({
      description:
        'Send this variant to the rest; without it the winner is chosen now as at the window’s end',
    }),
  })
  .openapi('SendWinner');

export const ProgressSchema = z
  .object({
    total: z.number().int(),
    counts: z.record(z.string(), z.number().int()).openapi({ example: { queued: 10, sent: 90 } }),
    suppressed_reasons: z.record(z.string(), z.number().int()),
    rate_per_second: z.number().openapi({ description: 'Messages sent per second over the last 10 seconds' }),
    planned: z.boolean(),
  })
  .openapi('CampaignProgress');

export const CampaignSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    segment_id: z.number().int().nullable(),
    template_id: z.number().int().nullable(),
    template_version: z.number().int().nullable(),
    offers_per_email: z.number().int(),
    variants: z.array(VariantSchema),
    schedule_at: z.string().nullable(),
    throttle_per_second: z.number().int().nullable(),
    attribution: AttributionSchema,
    from: FromSchema.nullable(),
    sender_id: z.number().int().nullable(),
    holdout_percent: z.number(),
    ranker: RankerSchema,
    send_at_best_hour: z.boolean(),
    category: MessageCategorySchema,
    priority: z.number().int(),
    ab_test: AbTestSchema.nullable(),
    ab_state: AbStateSchema.nullable(),
    status: z.enum(CAMPAIGN_STATUSES),
    launched_at: z.string().nullable(),
    planned_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    progress: ProgressSchema.optional(),
    warnings: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({
        description:
          'At save and launch: languages of the audience that the subject, a variant’s subject or an offer has no wording for; absent when none',
      }),
  })
  .openapi('Campaign');

export type CampaignView = z.infer<typeof CampaignSchema>;
