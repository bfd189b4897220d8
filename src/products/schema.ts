import { z } from '@hono/zod-openapi';
import { currency, locale, requiredText, text } from '../http/fields.js';

const isHttpUrl = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
};
const httpUrl = () => text(2000).refine(isHttpUrl, 'must be an http(s) URL');

/** A string, or an object of BCP 47 locale → string (at least one). */
const localizedText = (max: number) =>
  z.union([
    requiredText(max),
    z
      .record(locale(), requiredText(max))
      .refine((value) => Object.keys(value).length > 0, 'must hold at least one locale'),
  ]);

const PRODUCT_FIELDS = [
  'sku',
  'title',
  'description',
  'price',
  'currency',
  'category',
  'brand',
  'image_url',
  'url',
  'in_stock',
  'stock',
  'margin',
  'active',
  'attributes',
] as const;

const ProductFields = z.object({
  sku: requiredText(200).openapi({ example: 'SOFA-3P-GREY' }),
  title: localizedText(500).openapi({ example: { en: 'Three-seat sofa', fr: 'Canapé trois places' } }),
  description: localizedText(10_000).optional(),
  price: z
    .number()
    .min(0, 'must not be negative')
    .lt(1e12)
    .refine((n) => Math.round(n * 100) / 100 === n, 'at most 2 decimals')
    .openapi({ example: 899.9 }),
  currency: currency().default('EUR'),
  category: text(100).optional().openapi({ example: 'furniture' }),
  brand: text(200).optional(),
  image_url: httpUrl().optional(),
  url: httpUrl().optional(),
  in_stock: z.boolean().optional().openapi({ description: 'Availability when no `stock` count is kept' }),
  stock: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional()
    .openapi({ description: 'A count; 0 is out of stock' }),
  margin: z.number().gt(-1e9).lt(1e9).optional(),
  active: z.boolean().default(true),
  attributes: z.record(text(100), z.unknown()).optional(),
});

/**
 * One product. Fields other than those named are free attributes, kept with `attributes`
 * (a shop's feed carries colour, size, material… under its own names).
 */
export const ProductInputDoc = z.looseObject(ProductFields.shape).openapi('ProductInput');

export const ProductInputSchema = z.looseObject(ProductFields.shape).transform((input) => {
  const known = new Set<string>(PRODUCT_FIELDS);
  const extra = Object.fromEntries(Object.entries(input).filter(([key]) => !known.has(key)));
  const picked = Object.fromEntries(Object.entries(input).filter(([key]) => known.has(key)));
  return { ...(picked as z.output<typeof ProductFields>), attributes: { ...extra, ...input.attributes } };
});

export type ProductInput = z.output<typeof ProductInputSchema>;

const LocalizedOut = z.union([z.string(), z.record(z.string(), z.string())]);

export const ProductSchema = z
  .object({
    id: z.number().int(),
    sku: z.string(),
    title: LocalizedOut,
    description: LocalizedOut.nullable(),
    price: z.number(),
    currency: z.string(),
    category: z.string().nullable(),
    brand: z.string().nullable(),
    image_url: z.string().nullable(),
    url: z.string().nullable(),
    in_stock: z.boolean(),
    stock: z.number().int().nullable(),
    margin: z.number().nullable(),
    active: z.boolean(),
    attributes: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Product');
