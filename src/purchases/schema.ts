import { z } from '@hono/zod-openapi';
import { currency, isoDateTime, requiredText, text } from '../http/fields.js';

export const PURCHASE_KINDS = ['purchase', 'refund'] as const;
export type PurchaseKind = (typeof PURCHASE_KINDS)[number];

/** Why an amount does not fit its line's kind (the same rule as the CSV import's), or null. */
export function refundAmountError(kind: PurchaseKind, amount: number): string | null {
  if (kind === 'purchase' && amount < 0) return 'a negative amount is a refund: send it with kind "refund"';
  if (kind === 'refund' && amount >= 0) return 'a refund’s amount is negative';
  return null;
}

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
    kind: z.enum(PURCHASE_KINDS).default('purchase').openapi({
      description:
        'A sale, or a refund (a return): a refund’s amount is negative, and only a refund’s may be',
    }),
    amount: z
      .number()
      .gt(-1e12)
      .lt(1e12)
      .refine((n) => Math.round(n * 100) / 100 === n, 'at most 2 decimals')
      .openapi({
        example: 899.9,
        description: 'Total of the line; negative for a refund (`kind: "refund"`)',
      }),
    currency: currency().default('EUR'),
    purchased_at: isoDateTime().openapi({ example: '2025-03-01T10:00:00Z' }),
    source: text(100).optional().openapi({ example: 'shop' }),
    coupon_code: text(100).optional().openapi({
      example: 'SOFA-7KQ2-M9XD',
      description:
        'A unique offer code redeemed on the line: the conversion goes to the message that carried it',
    }),
  })
  .refine((p) => (p.customer_external_id === undefined) !== (p.customer_id === undefined), {
    message: 'give exactly one of customer_external_id or customer_id',
    path: ['customer_external_id'],
  })
  .superRefine((p, ctx) => {
    const message = refundAmountError(p.kind, p.amount);
    if (message) ctx.addIssue({ code: 'custom', path: ['amount'], message });
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
    kind: z.enum(PURCHASE_KINDS),
    amount: z.number(),
    currency: z.string(),
    purchased_at: z.string(),
    source: z.string().nullable(),
    coupon_code: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Purchase');
