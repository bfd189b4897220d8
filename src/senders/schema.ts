import { z } from '@hono/zod-openapi';
import { text } from '../http/fields.js';

// The sender identity contract. The private key is write-only: no response carries it.

const email = z.email({ message: 'must be an email address' }).max(254);
const hostname = z
  .string()
  .max(253)
  .regex(
    /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i,
    'must be a domain name such as shop.example',
  );
const selector = z
  .string()
  .max(63)
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i,
    'must be a DNS label such as s2026',
  );

const fields = {
  from_address: email.openapi({ example: 'offers@shop.example' }),
  from_name: text(200).nullable().optional().openapi({ example: 'La Boutique' }),
  reply_to: email.nullable().optional().openapi({
    description: 'Where replies go (Reply-To); the From address when absent',
    example: 'service@shop.example',
  }),
  dkim_domain: hostname.nullable().optional().openapi({
    description:
      'The DKIM signing domain (d=); must be aligned with the From domain (same organizational domain)',
    example: 'shop.example',
  }),
  dkim_selector: selector
    .nullable()
    .optional()
    .openapi({ description: 'The DKIM selector (s=)', example: 's2026' }),
  dkim_private_key: z.string().max(20_000).nullable().optional().openapi({
    description:
      'PEM private key (RSA ≥ 1024 bits, or Ed25519). Stored encrypted, never returned. With a DKIM domain and no key, a 2048-bit RSA key is generated.',
  }),
  is_default: z.boolean().optional().openapi({
    description: 'The sender used when a campaign, trigger or test-send names none (one at a time)',
  }),
};

export const SenderCreateSchema = z.strictObject(fields).openapi('SenderInput');
export const SenderPatchSchema = z.strictObject(fields).partial().openapi('SenderPatch');
export type SenderCreate = z.infer<typeof SenderCreateSchema>;
export type SenderPatch = z.infer<typeof SenderPatchSchema>;

export const DnsRecordSchema = z
  .object({
    purpose: z.enum(['spf', 'dkim', 'dmarc']),
    type: z.literal('TXT'),
    name: z.string(),
    value: z.string(),
    note: z.string(),
  })
  .openapi('DnsRecord');

export const SenderSchema = z
  .object({
    id: z.number().int(),
    from_address: z.string(),
    from_name: z.string().nullable(),
    reply_to: z.string().nullable(),
    dkim_domain: z.string().nullable(),
    dkim_selector: z.string().nullable(),
    dkim_key_set: z
      .boolean()
      .openapi({ description: 'Whether a private key is stored (it is never returned)' }),
    dkim_public_key: z
      .string()
      .nullable()
      .openapi({ description: 'The public key, base64 (the DKIM record’s p=)' }),
    is_default: z.boolean(),
    dns_records: z.array(DnsRecordSchema).openapi({ description: 'SPF, DKIM and DMARC records to publish' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('SenderIdentity');

export type SenderView = z.infer<typeof SenderSchema>;
