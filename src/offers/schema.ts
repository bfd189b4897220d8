import { z } from '@hono/zod-openapi';
import { HoldoutPercent } from '../holdouts/schema.js';
import { locale } from '../http/fields.js';
import { FEEDS } from '../products/recommend-store.js';

const Rule = (description: string, example: unknown) =>
  z
    .unknown()
    .openapi({ description, example, type: ['object', 'array', 'string', 'number', 'boolean', 'null'] });

const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2000)
  .openapi({ example: 'https://shop.example/garden' });

const Timestamp = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00Z' });

export const CapPerCustomer = z
  .strictObject({
    count: z.number().int().min(0).max(1_000_000).openapi({ description: 'Shown at most this many times…' }),
    days: z.number().int().min(1).max(3650).openapi({ description: '…in this many days' }),
  })
  .openapi('OfferCapPerCustomer');

const OfferWording = z
  .strictObject({
    title: z.string().trim().min(1).max(300),
    text: z.string().max(5000).optional(),
    code_label: z.string().max(100).optional(),
  })
  .openapi('OfferWording');

/** Where a product-targeted offer takes its product from, per customer. */
export const OfferProductSource = z
  .strictObject({
    feed: z.enum(FEEDS).openapi({ description: 'The recommendation feed the product comes from' }),
    rank: z.number().int().min(1).max(20).default(1).openapi({
      description: 'Which of the feed’s items (as shown to the customer, after the filters): 1 is the best',
    }),
    skus: z
      .array(z.string().trim().min(1).max(200))
      .min(1)
      .max(1000)
      .optional()
      .openapi({ description: 'Only these products of the feed', example: ['CUSHION-WOOL', 'THROW-LINEN'] }),
    category: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'Only products of this category', example: 'textile' }),
  })
  .openapi('OfferProductSource', {
    description:
      'The offer is about one of the customer’s recommended products (sku, title, price, url, image), filled per customer; a customer without one is not offered it (explain: `no_product`)',
    example: { feed: 'bought_together', rank: 1 },
  });

export type OfferProduct = z.infer<typeof OfferProductSource>;

/** The product an offer was filled with for one customer. */
export const FilledProductSchema = z
  .object({
    sku: z.string(),
    title: z.string(),
    price: z.number(),
    currency: z.string(),
    price_text: z.string().openapi({ description: 'The price in the customer’s locale', example: '€49.00' }),
    rank: z.number().int().openapi({ description: 'Its rank in the stored feed' }),
    url: z.string().nullable(),
    image_url: z.string().nullable(),
    feed: z.string(),
    reason: z.string(),
  })
  .openapi('FilledProduct');

/** Every writable field of an offer; POST requires name and title, PATCH none. */
const offerFields = {
  name: z.string().trim().min(1).max(200).openapi({ example: 'Garden spring -20%' }),
  title: z.string().trim().min(1).max(300).openapi({ example: '20% off garden tools' }),
  text: z.string().max(5000).nullable().optional(),
  image_url: HttpUrl.nullable().optional(),
  url: HttpUrl.nullable().optional(),
  code: z.string().max(100).nullable().optional().openapi({ example: 'GARDEN20' }),
  category: z
    .string()
    .max(200)
    .nullable()
    .optional()
    .openapi({ description: 'Product category the offer promotes', example: 'garden' }),
  eligibility: Rule('JSON Logic rule over the customer context; absent or null: everyone', {
    '>': [{ var: 'total_spent' }, 100],
  }).optional(),
  score: Rule('Numeric JSON Logic expression; higher ranks first. Absent: the priority is the score', {
    var: ['spend_by_category.garden', 0],
  }).optional(),
  priority: z.number().finite().min(-1e9).max(1e9).optional().openapi({
    description: 'Fixed rank (and tie-break after the score); default 0',
  }),
  valid_from: Timestamp.nullable().optional(),
  valid_to: Timestamp.nullable().optional(),
  cap_per_customer: CapPerCustomer.nullable().optional(),
  global_cap: z
    .number()
    .int()
    .min(0)
    .max(2_147_483_647)
    .nullable()
    .optional()
    .openapi({ description: 'Shown at most this many times in total' }),
  exclude_if_bought_within_days: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .nullable()
    .optional()
    .openapi({ description: 'Not offered to whoever bought its category in the last N days' }),
  fallback: z
    .boolean()
    .optional()
    .openapi({ description: 'Fills the places left when too few targeted offers are eligible' }),
  holdout_percent: HoldoutPercent.optional().openapi({
    description:
      'Percent of the customers this offer would be shown to who get the next-ranked offer instead, so the offer report can measure its own effect; default 0',
  }),
  product: OfferProductSource.nullable().optional(),
  translations: z
    .record(locale(), OfferWording)
    .refine((t) => Object.keys(t).length <= 50, 'at most 50 locales')
    .optional()
    .openapi({
      description:
        'Title, text and code wording per locale (`fr`, `fr-CA`); a customer sees their locale’s, else their language’s, else the offer’s own',
      example: { fr: { title: '20 % sur le jardin', text: 'Jusqu’à dimanche', code_label: 'Votre code :' } },
    }),
};

export const OfferCreate = z.strictObject(offerFields).openapi('OfferCreate');
export const OfferPatch = z
  .strictObject({
    ...offerFields,
    name: offerFields.name.optional(),
    title: offerFields.title.optional(),
  })
  .openapi('OfferPatch');

export type OfferCreateInput = z.infer<typeof OfferCreate>;
export type OfferPatchInput = z.infer<typeof OfferPatch>;

export const OfferSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    title: z.string(),
    text: z.string().nullable(),
    image_url: z.string().nullable(),
    url: z.string().nullable(),
    code: z.string().nullable(),
    category: z.string().nullable(),
    eligibility: z.unknown(),
    score: z.unknown(),
    priority: z.number(),
    valid_from: z.string().nullable(),
    valid_to: z.string().nullable(),
    cap_per_customer: CapPerCustomer.nullable(),
    global_cap: z.number().int().nullable(),
    shown_count: z.number().int(),
    exclude_if_bought_within_days: z.number().int().nullable(),
    fallback: z.boolean(),
    holdout_percent: z.number(),
    product: OfferProductSource.nullable(),
    translations: z.record(
      z.string(),
      z.object({ title: z.string(), text: z.string().optional(), code_label: z.string().optional() }),
    ),
    version: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Offer');

export type OfferJson = z.infer<typeof OfferSchema>;

export const OfferListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ description: 'Page size (1–1000)' }),
  cursor: z.string().max(500).optional().openapi({ description: 'Opaque cursor from `next_cursor`' }),
  category: z.string().max(200).optional().openapi({ description: 'Only offers of this category' }),
});

export const OfferList = z
  .object({ data: z.array(OfferSchema), next_cursor: z.string().nullable() })
  .openapi('OfferList');

/** How a campaign ranks its eligible offers: the offers' own scores, or the learning ranker. */
export const RankerSchema = z
  .strictObject({
    mode: z.enum(['priority', 'learning']).openapi({
      description:
        '`priority`: by the offers’ score rules and priorities; `learning`: by Thompson sampling over what each offer earned per impression',
    }),
    objective: z.enum(['conversion', 'revenue']).default('conversion').openapi({
      description: 'What the learner maximises per impression: conversions, or revenue',
    }),
    segment_cells: z.boolean().default(false).openapi({
      description: 'Learn per cell (top category × recency band), shrunk toward the offer’s overall figures',
    }),
    exploration: z.number().finite().min(0).max(1).default(0.05).openapi({
      description:
        'Share of customers whose eligible offers are ranked at random, so every offer keeps being tried',
    }),
  })
  .openapi('Ranker');

export type Ranker = z.infer<typeof RankerSchema>;

/** A ranker as a request gives it: the object, or its mode alone (`"learning"`). */
export const RankerInput = z
  .preprocess((value) => (typeof value === 'string' ? { mode: value } : value), RankerSchema)
  .openapi({ description: 'The ranker, or just its mode (`"learning"` with the defaults)' });

export const DecisionRequest = z
  .strictObject({
    customer_id: z
      .number()
      .int()
      .positive()
      .max(2 ** 53 - 1)
      .openapi({ example: 1 }),
    placements: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .openapi({ description: 'How many offers to choose (1–20)' }),
    explain: z.boolean().default(false).openapi({ description: 'Also list every offer left out and why' }),
    ranker: RankerInput.optional().openapi({
      description: 'Rank with the learning ranker (as a campaign that opted in would); absent: by priority',
    }),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional()
      .openapi({ description: 'Seeds the learning ranker’s draws: the same seed and data decide the same' }),
  })
  .openapi('DecisionRequest');

const LearnedSchema = z
  .object({
    objective: z.enum(['conversion', 'revenue']),
    cell: z.string().openapi({ description: '`*` over all customers, or the customer’s cell' }),
    impressions: z.number().int(),
    conversions: z.number().int(),
    conversion_rate: z.number().openapi({ description: 'Posterior mean of conversions per impression' }),
    conversion_sd: z.number().openapi({ description: 'Its posterior standard deviation' }),
    revenue_per_impression: z.number().nullable(),
    revenue_sd: z.number().nullable(),
    sample: z.number().openapi({ description: 'The draw this decision ranked the offer by' }),
    text: z.string().openapi({ example: 'conversion 3.2 % ± 0.8 %, 1,240 impressions' }),
  })
  .openapi('LearnedEstimate');

const Reason = z
  .object({
    code: z.string().openapi({ example: 'customer_cap' }),
    message: z.string().openapi({ example: 'shown 2 times in the last 7 days (cap 2)' }),
  })
  .openapi('DecisionReason');

export const DecisionResponse = z
  .object({
    customer_id: z.number().int(),
    offers: z.array(
      z.object({
        offer_id: z.number().int(),
        name: z.string(),
        title: z.string(),
        text: z.string().nullable(),
        image_url: z.string().nullable(),
        url: z.string().nullable(),
        code: z.string().nullable(),
        category: z.string().nullable(),
        score: z.number(),
        priority: z.number(),
        fallback: z.boolean(),
        product: FilledProductSchema.optional().openapi({
          description: 'For an offer targeting a product: the customer’s product it was filled with',
        }),
        learned: LearnedSchema.optional().openapi({
          description:
            'With explain and the learning ranker: what was learned of the offer (`score` is the draw)',
        }),
      }),
    ),
    excluded: z
      .array(z.object({ offer_id: z.number().int(), name: z.string(), reasons: z.array(Reason) }))
      .optional(),
    held_out: z.array(z.number().int()).optional().openapi({
      description:
        'Offers that would have been chosen but the customer is in their holdout (the next ones took their place)',
    }),
    ranker: z.object({ cell: z.string(), explore: z.boolean() }).optional().openapi({
      description:
        'Decided by the learning ranker: the customer’s cell, and whether this was an exploration draw (offers in random order)',
    }),
  })
  .openapi('Decision');
