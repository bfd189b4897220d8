import { z } from '@hono/zod-openapi';
import { requiredText, slug } from '../http/fields.js';
import { RankerInput } from '../offers/schema.js';

// The journey contract: a definition (entry, re-entry, goal, steps) validated first by these
// schemas (shape) and then whole by validate.ts (graph and rules). One schema serves POST and,
// made partial, PATCH.

/** A step id: referenced by `next`, `then`, `else`, … and the report's keys. */
const StepId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must use only A-Z, a-z, 0-9, _ and -');

/** Durations go down to one second (tests use them) and up to a year. */
const Seconds = z
  .number()
  .int()
  .min(1)
  .max(366 * 86_400);

const EventName = requiredText(200);

export const WEEKDAYS = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
] as const;

const WaitStep = z.strictObject({
  id: StepId,
  type: z.literal('wait'),
  seconds: Seconds.optional().openapi({ description: 'Wait this long' }),
  until: z
    .strictObject({
      hour: z.number().int().min(0).max(23),
      weekday: z.enum(WEEKDAYS).optional(),
    })
    .optional()
    .openapi({ description: 'Or until the next such local hour (and weekday) in the customer’s timezone' }),
  next: StepId,
});

const WaitForEventStep = z.strictObject({
  id: StepId,
  type: z.literal('wait_for_event'),
  event: EventName.openapi({ description: 'A custom event name, or `purchase`', example: 'order_placed' }),
  filter: z.unknown().optional().openapi({ description: 'JSON Logic over `{event, customer}`' }),
  timeout_seconds: Seconds,
  on_event: StepId,
  on_timeout: StepId,
});

const BranchStep = z.strictObject({
  id: StepId,
  type: z.literal('branch'),
  rule: z.unknown().openapi({
    description: 'JSON Logic over `{customer, event}` (the rule context and the entering event)',
    example: { '>=': [{ var: 'customer.total_spent' }, 100] },
  }),
  then: StepId,
  else: StepId,
});

const SplitStep = z.strictObject({
  id: StepId,
  type: z.literal('split'),
  paths: z
    .array(
      z.strictObject({
        weight: z.number().int().min(0).max(100),
        next: StepId,
        holdout: z.boolean().optional().openapi({ description: 'The control path (counted, nothing sent)' }),
      }),
    )
    .min(2)
    .max(10),
});

const SendEmailStep = z.strictObject({
  id: StepId,
  type: z.literal('send_email'),
  template_id: z.number().int().positive(),
  template_version: z
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: 'Pinned to the latest version at activation when absent' }),
  sender: z.number().int().positive().nullable().optional().openapi({
    description: 'The sender identity (GET /v1/senders); null or absent: the default sender',
  }),
  offers_per_email: z.number().int().min(0).max(20).optional(),
  ranker: RankerInput.optional().openapi({
    description:
      'How the step’s offers are ranked, as a campaign’s: `priority` (absent), or `learning` (or the object with objective, segment_cells, exploration)',
  }),
  subject: requiredText(500).optional().openapi({ description: 'A subject of its own (Handlebars)' }),
  next: StepId,
});

const UpdateAttributeStep = z.strictObject({
  id: StepId,
  type: z.literal('update_attribute'),
  key: slug(),
  value: z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]),
  next: StepId,
});

const WebhookStep = z.strictObject({
  id: StepId,
  type: z.literal('webhook'),
  endpoint_id: z.number().int().positive(),
  next: StepId,
});

const ExitStep = z.strictObject({ id: StepId, type: z.literal('exit') });

export const StepSchema = z
  .discriminatedUnion('type', [
    WaitStep,
    WaitForEventStep,
    BranchStep,
    SplitStep,
    SendEmailStep,
    UpdateAttributeStep,
    WebhookStep,
    ExitStep,
  ])
  .openapi('JourneyStep');

export type Step = z.infer<typeof StepSchema>;
export type StepType = Step['type'];
export const STEP_TYPES = [
  'wait',
  'wait_for_event',
  'branch',
  'split',
  'send_email',
  'update_attribute',
  'webhook',
  'exit',
] as const satisfies readonly StepType[];

export const EntrySchema = z
  .union([
    z.strictObject({ event: EventName, filter: z.unknown().optional() }),
    z.strictObject({ segment_id: z.number().int().positive() }),
    z.strictObject({ purchase: z.strictObject({ filter: z.unknown().optional() }) }),
    z.strictObject({
      date_attribute: slug().openapi({
        description: 'A declared attribute of type `date`',
        example: 'renewal_on',
      }),
      offset_days: z.number().int().min(-366).max(366).optional().openapi({
        description: 'Enter this many days after (negative: before) the date',
        example: -7,
      }),
      at_local_hour: z.number().int().min(0).max(23).optional().openapi({
        description:
          'From this hour of that day in the customer’s timezone (UTC when unknown); 0 when absent',
        example: 9,
      }),
      yearly: z.boolean().optional().openapi({
        description:
          'Every year on the date’s month and day (29 February: the 28th in other years), not only on the date itself',
      }),
    }),
  ])
  .openapi('JourneyEntry', {
    description:
      'How customers enter: a custom event (filter over `{event, customer}`), a segment, a purchase, or a date attribute',
  });

export const ReEntrySchema = z
  .union([z.enum(['never', 'after_exit']), z.strictObject({ after_days: z.number().int().min(1).max(3650) })])
  .openapi('JourneyReEntry');

export const GoalSchema = z
  .union([
    z.strictObject({ event: EventName, filter: z.unknown().optional() }),
    z.strictObject({ purchase: z.strictObject({ filter: z.unknown().optional() }) }),
  ])
  .openapi('JourneyGoal', { description: 'Reaching it exits the customer at once and counts a conversion' });

const definitionFields = {
  entry: EntrySchema,
  re_entry: ReEntrySchema.optional(),
  goal: GoalSchema.nullable().optional(),
  start: StepId,
  steps: z.array(StepSchema).min(1).max(200),
};

export const DefinitionSchema = z.strictObject(definitionFields);
export type Definition = z.infer<typeof DefinitionSchema>;
export type Entry = z.infer<typeof EntrySchema>;
export type Goal = z.infer<typeof GoalSchema>;

export const JourneyCreateSchema = z
  .strictObject({ name: requiredText(200), ...definitionFields })
  .openapi('JourneyInput');
export const JourneyPatchSchema = JourneyCreateSchema.partial().openapi('JourneyPatch');
export type JourneyCreate = z.infer<typeof JourneyCreateSchema>;
export type JourneyPatch = z.infer<typeof JourneyPatchSchema>;

export const JOURNEY_STATUSES = ['draft', 'active', 'paused', 'archived'] as const;

export const JourneySchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    status: z.enum(JOURNEY_STATUSES),
    version: z.number().int().openapi({ description: 'The version new entries take' }),
    entry: z.unknown(),
    re_entry: z.unknown(),
    goal: z.unknown().nullable(),
    start: z.string(),
    steps: z.array(z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Journey');

export const PreviewInputSchema = z
  .strictObject({
    customer_id: z.number().int().positive(),
    event: z.record(z.string(), z.unknown()).optional().openapi({
      description: 'The entering event’s fields (`{name, properties}` for a custom event)',
    }),
  })
  .openapi('JourneyPreviewInput');
