import { z } from '@hono/zod-openapi';
import { currency, isoDateTime, requiredText, text } from '../http/fields.js';

/** One order line. `amount` is the line's total; the customer is named by external id or id. */
export const PurchaseInputSchema = z
  .strictObject({
    external_line_id: requiredText(200).openapi({
      example: 'order-981/1',
      description: 'Unique id of the line in the source system; re-posting it changes nothing',
    }),
    customer_external_id: requiredText(200).optional().openapi({ example: 'crm-1042' }),
    customer_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    order_ref: text(200).optional().openapi({ example: 'order-981' }),
    sku: text(200).optional().openapi({ example: 'SOFA-3P-GREY' }),
    category: text(100).optional().openapi({ example: 'furniture' }),
    quantity: z.number().gt(0, 'must be greater than 0').lt(1e9).default(1),
    amount: z
      .number()
      .gt(-1e12)
      .lt(1e12)
      .refine((n) => Math.round(n * 100) / 100 === n, 'at most 2 decimals')
      .openapi({ example: 899.9, description: 'Total of the line (negative for a return)' }),
    currency: currency().default('EUR'),
    purchased_at: isoDateTime().openapi({ example: '2025-03-01T10:00:00Z' }),
    source: text(100).optional().openapi({ example: 'shop' }),
  })
  .refine((p) => (p.customer_external_id === undefined) !== (p.customer_id === undefined), {
    message: 'give exactly one of customer_external_id or customer_id',
    path: ['customer_external_id'],
  })
  .openapi('PurchaseInput');

export type PurchaseInput = z.infer<typeof PurchaseInputSchema>;

export const PurchaseSchema = z
  .object({
    id: z.number().int(),
    external_line_id: z.string(),
    customer_id: z.number().int(),
    order_ref: z.string().nullable(),
    sku: z.string().nullable(),
    category: z.string().nullable(),
    quantity: z.number(),
    amount: z.number(),
    currency: z.string(),
    purchased_at: z.string(),
    source: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Purchase');
