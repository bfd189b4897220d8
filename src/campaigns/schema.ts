import { z } from '@hono/zod-openapi';
import { isoDateTime, requiredText, text } from '../http/fields.js';

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
};

export const CampaignCreateSchema = z.strictObject(fields).openapi('CampaignCreate');
export const CampaignPatchSchema = z.strictObject(fields).partial().openapi('CampaignPatch');

export type CampaignCreate = z.infer<typeof CampaignCreateSchema>;
export type CampaignPatch = z.infer<typeof CampaignPatchSchema>;
export type Variant = z.infer<typeof VariantSchema>;

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'sent', 'paused', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'failed', 'suppressed', 'cancelled'] as const;

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
    status: z.enum(CAMPAIGN_STATUSES),
    launched_at: z.string().nullable(),
    planned_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    progress: ProgressSchema.optional(),
  })
  .openapi('Campaign');

export type CampaignView = z.infer<typeof CampaignSchema>;
