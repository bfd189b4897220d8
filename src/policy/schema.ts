import { z } from '@hono/zod-openapi';
import { timeZone } from '../http/fields.js';

/**
 * What kind of mail a campaign, trigger or journey step sends. Only promotional mail is under
 * the contact policy (caps, quiet hours, complaint suspension); transactional mail (receipts,
 * confirmations) and exempt mail (service notices) always go out at once and are not counted.
 */
export const MESSAGE_CATEGORIES = ['promotional', 'transactional', 'exempt'] as const;
export type MessageCategory = (typeof MESSAGE_CATEGORIES)[number];

export const MessageCategorySchema = z.enum(MESSAGE_CATEGORIES).openapi({
  description:
    'promotional (default): capped, held in quiet hours, suspended after a complaint; transactional and exempt: never',
});

export const MessagePrioritySchema = z.number().int().min(-1000).max(1000).openapi({
  description:
    'When a cap has room for fewer messages than are due, the higher priority goes out and the lower is dropped (reason `outranked`); default 0',
  example: 10,
});

const LocalTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time HH:MM (00:00 to 23:59)')
  .openapi({ example: '21:00' });

const Cap = z.number().int().min(0).max(1000).nullable();

export const QuietHoursSchema = z
  .strictObject({ start: LocalTime, end: LocalTime })
  .refine((q) => q.start !== q.end, { path: ['end'], message: 'must differ from start' })
  .openapi('QuietHours', {
    description:
      'Promotional mail due in this local window (customer time zone) is held until it ends; start after end spans midnight',
  });

export const ContactPolicySchema = z
  .object({
    daily_cap: Cap.openapi({ description: 'Promotional emails per customer per local day; null: no cap' }),
    weekly_cap: Cap.openapi({
      description: 'Promotional emails per customer per 7 local days; null: no cap',
    }),
    quiet_hours: QuietHoursSchema.nullable(),
    complaint_suspension_days: z.number().int().openapi({
      description: 'Days without promotional mail after staff log a complaint on the customer card (0: none)',
    }),
    default_timezone: z.string().openapi({ description: 'The zone of customers without one' }),
  })
  .openapi('ContactPolicy');

export const ContactPolicyPatch = z
  .strictObject({
    daily_cap: Cap.optional(),
    weekly_cap: Cap.optional(),
    quiet_hours: QuietHoursSchema.nullable().optional(),
    complaint_suspension_days: z.number().int().min(0).max(3650).optional(),
    default_timezone: timeZone().optional(),
  })
  .openapi('ContactPolicyPatch');

export type ContactPolicy = z.infer<typeof ContactPolicySchema>;
export type ContactPolicyPatchInput = z.infer<typeof ContactPolicyPatch>;
