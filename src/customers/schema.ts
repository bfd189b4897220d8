import { z } from '@hono/zod-openapi';
import { isoDate, locale, requiredText, slug, text, timeZone } from '../http/fields.js';

// The customer contract integrators code against. One schema validates single upserts, batch
// rows and PATCH bodies, and generates the OpenAPI document.

const scalar = z.union([text(1000), z.number(), z.boolean()]);

export const AddressSchema = z
  .strictObject({
    line1: text(200).optional(),
    line2: text(200).optional(),
    postal_code: text(20).optional(),
    city: text(100).optional(),
    region: text(100).optional(),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as FR')
      .optional(),
  })
  .openapi('Address', {
    example: { line1: '12 rue des Lilas', postal_code: '75011', city: 'Paris', country: 'FR' },
  });

export const FamilyMemberSchema = z
  .strictObject({
    relation: requiredText(50).openapi({ example: 'child' }),
    name: text(200).optional(),
    birth_date: isoDate().optional(),
  })
  .openapi('FamilyMember');

const labels = (max: number) => z.array(requiredText(100)).max(max, `at most ${max} entries`);

/** Free attribute values: checked against the attribute registry by key and declared type. */
export const AttributeValue = z.union([
  text(2000),
  z.number(),
  z.boolean(),
  z.array(text(200)).max(100),
  z.null(),
]);

export const customerFields = {
  email: z
    .email({ message: 'must be an email address' })
    .max(254)
    .nullable()
    .optional()
    .openapi({ example: 'ana@example.com' }),
  first_name: text(200).nullable().optional(),
  last_name: text(200).nullable().optional(),
  locale: locale().nullable().optional().openapi({ example: 'fr-FR' }),
  timezone: timeZone().nullable().optional().openapi({ example: 'Europe/Paris' }),
  birth_date: isoDate().nullable().optional().openapi({ example: '1985-04-12' }),
  address: AddressSchema.nullable().optional(),
  family: z.array(FamilyMemberSchema).max(50).nullable().optional(),
  occupation: text(200).nullable().optional(),
  income_band: text(50).nullable().optional(),
  education: text(200).nullable().optional(),
  preferences: z
    .record(slug(), z.union([scalar, z.array(text(200)).max(100)]))
    .refine((r) => Object.keys(r).length <= 100, 'at most 100 preferences')
    .nullable()
    .optional()
    .openapi({ example: { channel: 'email', newsletter: true } }),
  preferred_categories: labels(100)
    .nullable()
    .optional()
    .openapi({ example: ['shoes', 'outdoor'] }),
  hobbies: labels(100)
    .nullable()
    .optional()
    .openapi({ example: ['hiking'] }),
  social_handles: z
    .record(slug(32), requiredText(200))
    .refine((r) => Object.keys(r).length <= 20, 'at most 20 handles')
    .nullable()
    .optional()
    .openapi({ example: { instagram: '@ana' } }),
  attributes: z
    .record(slug(), AttributeValue)
    .refine((r) => Object.keys(r).length <= 200, 'at most 200 attributes')
    .optional()
    .openapi({
      description:
        'Free attributes declared in the registry (`/v1/attributes`); merged key by key, null removes a key',
      example: { loyalty_tier: 'gold' },
    }),
  consents: z
    .record(slug(), z.boolean())
    .refine((r) => Object.keys(r).length <= 50, 'at most 50 purposes')
    .optional()
    .openapi({
      description: 'Shorthand appended to the consent ledger when it changes the current state',
      example: { marketing_email: true },
    }),
};

export const ExternalId = requiredText(200).openapi({ example: 'crm-1042' });

/** A customer as pushed by an integrator: fields present are written (null clears), absent ones kept. */
export const CustomerInputSchema = z
  .strictObject({ external_id: ExternalId, ...customerFields })
  .openapi('CustomerInput');

export const CustomerPatchSchema = z
  .strictObject({ external_id: ExternalId.optional(), ...customerFields })
  .openapi('CustomerPatch');

export type CustomerInput = z.infer<typeof CustomerInputSchema>;
export type CustomerPatch = z.infer<typeof CustomerPatchSchema>;

/** Profile columns in the order of the `customers` table (everything a client may write). */
export const PROFILE_COLUMNS = [
  'email',
  'first_name',
  'last_name',
  'locale',
  'timezone',
  'birth_date',
  'address',
  'family',
  'occupation',
  'income_band',
  'education',
  'preferences',
  'preferred_categories',
  'hobbies',
  'social_handles',
  'attributes',
] as const;
export type ProfileColumn = (typeof PROFILE_COLUMNS)[number];

export const CustomerSchema = z
  .object({
    id: z.number().int(),
    external_id: z.string(),
    email: z.string().nullable(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    locale: z.string().nullable(),
    timezone: z.string().nullable(),
    birth_date: z.string().nullable(),
    address: z.record(z.string(), z.unknown()),
    family: z.array(z.record(z.string(), z.unknown())),
    occupation: z.string().nullable(),
    income_band: z.string().nullable(),
    education: z.string().nullable(),
    preferences: z.record(z.string(), z.unknown()),
    preferred_categories: z.array(z.string()),
    hobbies: z.array(z.string()),
    social_handles: z.record(z.string(), z.string()),
    attributes: z.record(z.string(), z.unknown()).openapi({
      description:
        'Free attributes. Those of a special category (declared `sensitive`: health, political opinions…) are present only for roles granted `sensitive:read` (SENSITIVE_READ_ROLES, admin by default); for every other role they are omitted.',
    }),
    created_at: z.string(),
    updated_at: z.string(),
    erased_at: z.string().nullable(),
  })
  .openapi('Customer');
export type Customer = z.infer<typeof CustomerSchema>;
