import { z } from '@hono/zod-openapi';

export const MAX_MJML_CHARS = 512_000;

const name = z.string().trim().min(1).max(200).openapi({ example: 'Spring offers' });
const subject = z.string().min(1).max(1000).openapi({
  description: 'Handlebars, rendered per recipient',
  example: '{{customer.first_name}}, your offers',
});
const preheader = z
  .string()
  .max(1000)
  .nullable()
  .openapi({ description: 'Hidden preview text (Handlebars); shown by mail clients after the subject' });
const mjml = z.string().min(1).max(MAX_MJML_CHARS).openapi({
  description: 'MJML with Handlebars expressions; validated strictly and compiled to HTML at save',
  example:
    '<mjml><mj-body><mj-section><mj-column><mj-text>{{greeting}}</mj-text><mj-text>{{> offers}}</mj-text></mj-column></mj-section></mj-body></mjml>',
});

export const TemplateCreate = z
  .strictObject({ name, subject, preheader: preheader.optional(), mjml })
  .openapi('TemplateCreate');

export const TemplatePatch = z
  .strictObject({
    name: name.optional(),
    subject: subject.optional(),
    preheader: preheader.optional(),
    mjml: mjml.optional(),
  })
  .openapi('TemplatePatch');

export const TemplateSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    version: z.number().int().openapi({ description: 'The latest version' }),
    subject: z.string(),
    preheader: z.string().nullable(),
    mjml: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Template');

export const TemplateSummary = TemplateSchema.omit({ mjml: true }).openapi('TemplateSummary');

export const TemplateList = z
  .object({ data: z.array(TemplateSummary), next_cursor: z.string().nullable() })
  .openapi('TemplateList');

export const VersionSchema = z
  .object({
    template_id: z.number().int(),
    version: z.number().int(),
    subject: z.string(),
    preheader: z.string().nullable(),
    mjml: z.string(),
    html: z.string().openapi({ description: 'The compiled HTML, Handlebars expressions intact' }),
    text_template: z.string().nullable().openapi({ description: 'The plain-text part, Handlebars intact' }),
    compiled_at: z.string(),
    created_at: z.string(),
    partials: z
      .array(z.object({ name: z.string(), partial_id: z.number().int(), partial_version: z.number().int() }))
      .openapi({ description: 'The reusable blocks this version was saved with, at their versions' }),
  })
  .openapi('TemplateVersion');

export const VersionParams = z.object({
  id: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 53 - 1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 1 }),
  version: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .openapi({ param: { name: 'version', in: 'path' }, example: 1 }),
});

const renderInput = {
  customer_id: z.number().int().positive().optional().openapi({
    description: 'Render for this customer: their profile and the offers decided for them now',
  }),
  data: z.record(z.string(), z.unknown()).optional().openapi({
    description: 'Render data (customer, offers, unsubscribe_url, …), merged over the customer’s',
  }),
  version: z
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ description: 'A version; the latest by default' }),
};

export const PreviewBody = z.strictObject(renderInput).openapi('TemplatePreviewRequest');

export const Rendered = z
  .object({ subject: z.string(), html: z.string(), text: z.string() })
  .openapi('RenderedEmail');

export const TestSendBody = z
  .strictObject({
    to: z.email().max(320).openapi({ example: 'me@example.com' }),
    sender_id: z.number().int().positive().optional().openapi({
      description:
        'The sender identity to send from (its From, Reply-To and DKIM key); the default sender when absent',
    }),
    from: z
      .string()
      .max(320)
      .regex(/^[^\r\n]*$/, 'one line')
      .optional()
      .openapi({ description: 'Replaces the sender’s From (`Name <address>`); its Reply-To and key stay' }),
    subject: subject
      .optional()
      .openapi({ description: 'An edited subject not saved yet, sent instead of the version’s' }),
    preheader: preheader.nullable().optional().openapi({ description: 'An edited preheader not saved yet' }),
    mjml: mjml.optional().openapi({
      description: 'Edited MJML not saved yet, sent instead of the version’s (checked like a save)',
    }),
    ...renderInput,
  })
  .openapi('TemplateTestSendRequest');

export const TestSendResult = z
  .object({
    message_id: z.string(),
    accepted: z.array(z.string()),
    rejected: z.array(z.string()),
    subject: z.string(),
  })
  .openapi('TemplateTestSendResult');
