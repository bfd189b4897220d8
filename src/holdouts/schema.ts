import { z } from '@hono/zod-openapi';

/** A holdout's size: the share of eligible customers kept from the mailing to measure its lift. */
export const HoldoutPercent = z.number().finite().min(0).max(50).openapi({
  description:
    'Percent of eligible customers held out at random (a stable hash of the customer): they get no mail, and the report compares them with those mailed',
  example: 10,
});

const GroupSchema = z.object({
  customers: z.number().int(),
  conversions: z.number().int().openapi({ description: 'Customers who bought within the window' }),
  revenue: z.number().openapi({ description: 'Their purchases net of refunds, in `currency`' }),
  revenue_sq: z.number().openapi({ description: 'Sum of squared revenue per customer (for the variance)' }),
  conversion_rate: z.number().nullable(),
  revenue_per_customer: z.number().nullable(),
});

const Interval = z.tuple([z.number(), z.number()]);

const LiftSchema = z.object({
  absolute: z.number().nullable().openapi({ description: 'Treated minus holdout' }),
  relative: z.number().nullable().openapi({ description: 'Treated over holdout, minus one' }),
  ci95: Interval.nullable().openapi({ description: '95 % confidence interval of `absolute`' }),
  relative_ci95: Interval.nullable(),
  p_value: z.number().nullable(),
});

export const IncrementalSchema = z
  .object({
    window_days: z.number().int(),
    currency: z.string(),
    holdout_reasons: z.record(z.string(), z.number().int()).openapi({
      description:
        'Held-out customers by reason: `holdout` (this scope’s own) or `control_group` (the global one)',
    }),
    treated: GroupSchema,
    holdout: GroupSchema,
    lift: LiftSchema.openapi({ description: 'On the conversion rate (two-proportion interval)' }),
    revenue_lift: LiftSchema.openapi({
      description:
        'On revenue per customer (studentized bootstrap interval, seeded; Welch when a group has under two or over 4,000 customers with revenue)',
    }),
    incremental_conversions: z.number().nullable(),
    incremental_revenue: z.number().nullable(),
    min_detectable_effect: z.object({
      conversion_rate: z.number().nullable(),
      conversion_rate_relative: z.number().nullable(),
      revenue_per_customer: z.number().nullable(),
    }),
    enough_data: z.boolean().openapi({
      description: 'At least 5 converters and 5 non-converters in each group: the interval can be trusted',
    }),
    verdict: z.enum(['lift', 'negative', 'no_detectable_difference', 'not_enough_data', 'no_holdout']),
  })
  .openapi('Incremental', {
    description:
      'What the mail changed: the treated customers against the held-out ones over the same window from planning, whatever they clicked (last-touch figures are the report’s other sections)',
  });

export const WindowDays = z.coerce.number().int().min(1).max(365).default(7).openapi({
  description: 'Days each customer is followed for the incremental section (default 7)',
});
