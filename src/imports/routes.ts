import { z } from '@hono/zod-openapi';
import { stringify } from 'csv-stringify/sync';
import type { Context } from 'hono';
import type { Db } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App, AppEnv } from '../http/env.js';
import { nulByteErrors } from '../http/nul-bytes.js';
import { decodeCursor, PageQuery, page } from '../http/pagination.js';
import { AppError, type FieldError, invalid, notFound, zodToFieldErrors } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonResponse, notFoundResponse, ProblemSchema } from '../http/route.js';
import { TRIGGER_MODES } from './history.js';
import { enqueueImport } from './jobs.js';
import { confirmationReasons, type ImportKind, inferKind, mappedColumns, noKindMessage } from './mapping.js';
import { receiveMultipart } from './multipart.js';
import { PREVIEW_ROWS, previewCsv } from './preview.js';
import { openCsv } from './source.js';
import {
  countPurchaseTriggers,
  findImport,
  type ImportError,
  type ImportRow,
  insertImport,
  listImports,
  markUploaded,
  readChunks,
  selectErrors,
} from './store.js';
import { spoolUpload, tooLarge } from './upload.js';

/** Room for the form's fields and part headers on top of the file, in a declared Content-Length. */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

/** The upload route streams its body itself, under IMPORT_MAX_BYTES: the app-wide body limit skips it. */
export const IMPORT_UPLOAD = { method: 'POST', path: '/v1/imports' } as const;

/** A body that is the CSV file itself (options in the query string) rather than a form. */
const RAW_CSV = /^(text\/csv|application\/octet-stream)\b/i;

const SEPARATORS = { ',': ',', ';': ';', '\t': '\t', comma: ',', semicolon: ';', tab: '\t' } as const;

const ImportKindSchema = z.enum(['customers', 'purchases', 'products']);

const FormFields = z.strictObject({
  kind: ImportKindSchema.optional(),
  mapping: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      try {
        const parsed = z.record(z.string(), z.string()).parse(JSON.parse(value));
        return parsed;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of field → column header' });
        return z.NEVER;
      }
    }),
  separator: z.enum(Object.keys(SEPARATORS) as [keyof typeof SEPARATORS]).optional(),
  encoding: z.enum(['utf-8', 'windows-1252']).optional(),
  decimal_comma: z.enum(['true', 'false']).optional(),
  timezone: z.string().max(64).optional(),
  triggers: z.enum(TRIGGER_MODES).optional(),
  confirm: z.enum(['true', 'false']).optional(),
});

/** The form's (or query string's) options as the import reads them: separators and booleans decoded. */
function importOptions(fields: Omit<z.infer<typeof FormFields>, 'kind'>) {
  const { separator, decimal_comma, confirm: _confirm, ...rest } = fields;
  return {
    ...rest,
    ...(separator ? { separator: SEPARATORS[separator] } : {}),
    ...(decimal_comma ? { decimal_comma: decimal_comma === 'true' } : {}),
  };
}

const CursorShape = z.object({ id: z.number().int().positive() });

/** Errors shown in an import's JSON; the CSV report has them all. */
const ERRORS_SHOWN = 100;

const ImportSummarySchema = z
  .object({
    id: z.number().int(),
    kind: ImportKindSchema,
    status: z.enum(['uploading', 'queued', 'running', 'done', 'failed']),
    filename: z.string().nullable(),
    size_bytes: z.number().int(),
    bytes_done: z.number().int(),
    progress: z.number().openapi({ description: 'Fraction of the file read and committed, 0 to 1' }),
    rows_done: z.number().int(),
    rows_created: z.number().int(),
    rows_unchanged: z.number().int(),
    rows_failed: z.number().int(),
    error: z.string().nullable(),
    errors_url: z.string(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi('ImportSummary');

export const ImportSchema = ImportSummarySchema.extend({
  errors: z
    .array(z.object({ line: z.number().int(), column: z.string().nullable(), reason: z.string() }))
    .openapi({
      description: `The first ${ERRORS_SHOWN} refused rows' errors in line order; all of them at errors_url (CSV)`,
    }),
}).openapi('Import');

export const ImportPage = z
  .object({ data: z.array(ImportSummarySchema), next_cursor: z.string().nullable() })
  .openapi('ImportPage');

/** An import as the API shows it; `errors` (the first ones) only for a single import. */
export function importToJson(row: ImportRow, errors: readonly ImportError[] = []) {
  return {
    ...importSummary(row),
    errors: errors.map((e) => ({ line: e.line, column: e.column, reason: e.reason })),
  };
}

function importSummary(row: ImportRow) {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    filename: row.filename,
    size_bytes: row.size_bytes,
    bytes_done: row.bytes_done,
    progress:
      row.status === 'done' ? 1 : row.size_bytes > 0 ? Math.min(1, row.bytes_done / row.size_bytes) : 0,
    rows_done: row.rows_done,
    rows_created: row.rows_created,
    rows_unchanged: row.rows_unchanged,
    rows_failed: row.rows_failed,
    error: row.error,
    errors_url: `/v1/imports/${row.id}/errors.csv`,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}

const create = defineRoute({
  method: 'post',
  path: '/v1/imports',
  tags: ['imports'],
  summary: 'Upload a CSV of customers or purchases; it is imported by a worker',
  description:
    'Multipart form: `file` (the CSV), `kind` (customers | purchases | products; when absent, purchases if the header has their columns, else products if it has sku, title and price, else customers if it has an id column, else a 422 naming `kind`), optional `mapping` (JSON: field → column header), `separator` (`,` `;` tab; sniffed otherwise), `encoding` (utf-8 | windows-1252; sniffed otherwise), `decimal_comma` (default: true for `;` files), `timezone` (of dates without an offset; default UTC), `triggers` (recent | all | none: which new purchase lines fire automations; default `recent`, only lines bought within IMPORT_TRIGGER_MAX_AGE_HOURS, default 24, so importing history mails nobody), `confirm` (true: import even when the kind was guessed from the header or most columns would be ignored; otherwise such an upload is a 422 `needs-confirmation` listing why, as POST /v1/imports/preview says beforehand). Idempotent by external ids: importing a file twice changes nothing. The body is streamed to storage as it arrives (files up to IMPORT_MAX_BYTES, default 5 GiB; the API-wide body limit does not apply); send the fields before the file so that a bad option is refused before the upload. Or send the file itself as the body (`Content-Type: text/csv` or `application/octet-stream`) with the same options in the query string, e.g. `POST /v1/imports?kind=purchases&filename=erp.csv`. Follow progress with GET /v1/imports/{id}.',
  roles: ACCESS.integration,
  request: {
    body: {
      required: true,
      content: {
        'text/csv': {
          schema: { type: 'string', format: 'binary' },
        },
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: {
              file: { type: 'string', format: 'binary' },
              kind: {
                type: 'string',
                enum: ['customers', 'purchases', 'products'],
                description: 'Read from the header when absent (purchases when it has their columns)',
              },
              mapping: { type: 'string', description: 'JSON object, e.g. {"amount": "Montant TTC"}' },
              separator: { type: 'string', enum: Object.keys(SEPARATORS) },
              encoding: { type: 'string', enum: ['utf-8', 'windows-1252'] },
              decimal_comma: { type: 'string', enum: ['true', 'false'] },
              timezone: { type: 'string', example: 'Europe/Paris' },
              triggers: { type: 'string', enum: [...TRIGGER_MODES] },
              confirm: { type: 'string', enum: ['true', 'false'] },
            },
          },
        },
      },
    },
  },
  responses: {
    202: jsonResponse(ImportSchema, 'Stored and queued'),
    413: {
      description: 'The file is larger than IMPORT_MAX_BYTES; nothing was stored',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    },
    429: {
      description:
        'IMPORT_CONCURRENT_UPLOADS uploads are streaming already; nothing was read (see Retry-After)',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    },
  },
});

const list = defineRoute({
  method: 'get',
  path: '/v1/imports',
  tags: ['imports'],
  summary: 'Imports, newest first (the ERP’s daily files, uploads in progress, failures)',
  roles: ACCESS.integration,
  request: {
    query: z.object({
      ...PageQuery,
      kind: ImportKindSchema.optional(),
      status: z.enum(['uploading', 'queued', 'running', 'done', 'failed']).optional(),
    }),
  },
  responses: {
    200: jsonResponse(ImportPage, 'A page of imports (without their errors; see GET /v1/imports/{id})'),
  },
});

export const ImportPreviewSchema = z
  .object({
    kind: ImportKindSchema,
    separator: z.string(),
    encoding: z.enum(['utf-8', 'windows-1252']),
    decimal_comma: z.boolean(),
    header: z.array(z.string()),
    required: z.array(z.string()),
    columns: z.array(z.object({ header: z.string(), field: z.string().nullable() })),
    ignored_columns: z.number().int(),
    needs_confirmation: z.boolean().openapi({
      description: 'The upload answers 422 `needs-confirmation` unless it sends `confirm=true`',
    }),
    confirmation_reasons: z.array(z.string()),
    sample: z.array(
      z.object({
        line: z
          .number()
          .int()
          .openapi({ description: 'The file line the record starts on (the header is 1)' }),
        values: z.record(z.string(), z.string()),
      }),
    ),
    triggers: z
      .object({
        mode: z.enum(TRIGGER_MODES),
        max_age_hours: z.number(),
        orders: z.number().int(),
        recent_orders: z.number().int(),
        purchase_triggers: z.number().int(),
        emails: z.number().int().openapi({
          description:
            'At most this many automation emails the import would send: each order it would fire × each enabled purchase automation',
        }),
        records: z.number().int(),
      })
      .nullable()
      .openapi({
        description: 'Purchases: what the import would fire, counted over the body sent; null for customers',
      }),
  })
  .openapi('ImportPreview');

const preview = defineRoute({
  method: 'post',
  path: '/v1/imports/preview',
  tags: ['imports'],
  summary: 'How a CSV would be imported, from its first bytes; nothing is stored',
  description: `The body is the file, or only its first lines (\`Content-Type: text/csv\`), with the options of POST /v1/imports in the query string. Answers the separator and encoding (sniffed unless given), which column feeds which field, the first ${PREVIEW_ROWS} records as the import will read them, whether the upload needs \`confirm=true\`, and for purchases how many automation emails the import would fire (\`triggers\`, counted over the body sent). A header that does not map is a 422 naming \`mapping.<field>\`, as the import would end.`,
  roles: ACCESS.integration,
  request: {
    query: FormFields,
    body: { required: true, content: { 'text/csv': { schema: { type: 'string', format: 'binary' } } } },
  },
  responses: {
    200: jsonResponse(ImportPreviewSchema, 'How the file reads'),
    415: {
      description: 'The body is not CSV (send the file as text/csv or application/octet-stream)',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    },
  },
});

const get = defineRoute({
  method: 'get',
  path: '/v1/imports/{id}',
  tags: ['imports'],
  summary: 'An import’s status, progress and counts',
  roles: ACCESS.integration,
  request: { params: IdParam },
  responses: { 200: jsonResponse(ImportSchema, 'The import'), ...notFoundResponse },
});

const errors = defineRoute({
  method: 'get',
  path: '/v1/imports/{id}/errors.csv',
  tags: ['imports'],
  summary: 'The rows an import refused: line, column, reason (CSV)',
  roles: ACCESS.integration,
  request: { params: IdParam },
  responses: {
    200: { description: 'CSV report', content: { 'text/csv': { schema: { type: 'string' } } } },
    ...notFoundResponse,
  },
});

/**
 * The kind a stored upload reads as (given, or from its header: the 422 naming `kind` when none
 * fits), and, unless the upload says `confirm=true`, the 422 `needs-confirmation` when the kind
 * was guessed or most columns would be ignored (the preview says the same beforehand).
 */
async function kindOfStoredFile(
  tx: Db,
  id: number,
  input: { given: ImportKind | undefined; confirmed: boolean; options: ReturnType<typeof importOptions> },
  where: 'query' | 'body',
): Promise<ImportKind> {
  const { options, given } = input;
  const { header } = await openCsv(readChunks(tx, id), options);
  const kind = given ?? inferKind(header, options.mapping);
  if (!kind) throw invalid([{ path: 'kind', in: where, message: noKindMessage(header) }]);
  if (input.confirmed) return kind;
  const map = mappedColumns(kind, header, options.mapping);
  const reasons = confirmationReasons({ given, kind, header }, map);
  if (reasons.length === 0) return kind;
  const fieldOf = new Map([...map].map(([field, index]) => [index, field]));
  throw new AppError(
    422,
    'needs-confirmation',
    `Confirm this import (send confirm=true): ${reasons.join('; ')}`,
    reasons.map((message) => ({ path: 'confirm', in: where, message })),
    {
      kind,
      columns: header.map((name, index) => ({ header: name, field: fieldOf.get(index) ?? null })),
    },
  );
}

/** The 429 of an upload past IMPORT_CONCURRENT_UPLOADS. */
function tooManyUploads(limit: number): AppError {
  const error = new AppError(
    429,
    'too-many-uploads',
    `${limit} upload(s) are streaming already (IMPORT_CONCURRENT_UPLOADS); retry when one is done`,
  );
  error.retryAfterSeconds = 30;
  return error;
}

export function registerImportRoutes(app: App): void {
  // Uploads streaming now, in this app: each holds a database connection until it is stored.
  let uploading = 0;
  app.openapi(create, async (c) => {
    const { config } = c.var.deps;
    const maxBytes = config.IMPORT_MAX_BYTES;
    // A declared length already past the limit is refused before a byte is read.
    if (Number(c.req.header('content-length') ?? 0) > maxBytes + FORM_OVERHEAD_BYTES)
      throw tooLarge(maxBytes);
    if (uploading >= config.IMPORT_CONCURRENT_UPLOADS) throw tooManyUploads(config.IMPORT_CONCURRENT_UPLOADS);
    uploading += 1;
    try {
      return await storeUpload(c);
    } finally {
      uploading -= 1;
    }
  });

  async function storeUpload(c: Context<AppEnv>) {
    const { sql, jobs, config } = c.var.deps;
    const maxBytes = config.IMPORT_MAX_BYTES;
    const contentType = c.req.header('content-type') ?? '';
    const row = await sql.begin(async (tx) => {
      let fields: Record<string, unknown>;
      let file: { id: number; filename: string; size: number } | undefined;
      const problems: FieldError[] = [];
      if (RAW_CSV.test(contentType)) {
        // The file itself is the body; its options are in the query string, checked before a
        // byte of it is read.
        const { filename = '', ...query } = c.req.query();
        const early = FormFields.safeParse(query);
        if (!early.success) throw invalid(zodToFieldErrors(early.error, 'query'));
        const nul = nulByteErrors({ filename, ...query }, 'query');
        if (nul.length > 0) throw invalid(nul);
        fields = query;
        const created = await insertImport(tx, {
          kind: 'purchases',
          filename: filename || null,
          options: {},
          status: 'uploading',
        });
        const body = (c.req.raw.body ?? []) as AsyncIterable<Buffer>;
        file = { id: created.id, filename, size: await spoolUpload(tx, created.id, body, maxBytes) };
      } else {
        const form = await receiveMultipart(
          c.req.raw.body as AsyncIterable<Uint8Array> | null,
          contentType,
          'file',
          async ({ filename, stream }, fieldsSoFar) => {
            // Options sent before the file are checked before it is read; the others (the form
            // may put them after the file) once all are read, and the row is completed then.
            const early = FormFields.partial().safeParse(fieldsSoFar);
            if (!early.success) throw invalid(zodToFieldErrors(early.error, 'body'));
            const nul = nulByteErrors({ ...fieldsSoFar, filename }, 'body');
            if (nul.length > 0) throw invalid(nul);
            const created = await insertImport(tx, {
              kind: 'purchases',
              filename: filename || null,
              options: {},
              status: 'uploading',
            });
            return { id: created.id, filename, size: await spoolUpload(tx, created.id, stream, maxBytes) };
          },
        );
        fields = form.fields;
        file = form.file;
        problems.push(...form.problems);
      }
      const where = RAW_CSV.test(contentType) ? 'query' : 'body';
      const parsed = FormFields.safeParse(fields);
      if (!parsed.success) problems.push(...zodToFieldErrors(parsed.error, where));
      problems.push(...nulByteErrors(fields, where));
      if (!file) problems.push({ path: 'file', message: 'a CSV file is required', in: 'body' });
      else if (file.size === 0) problems.push({ path: 'file', message: 'the file is empty', in: 'body' });
      if (!parsed.success || !file || problems.length > 0) throw invalid(problems);
      const { kind: givenKind, ...given } = parsed.data;
      const options = importOptions(given);
      const { id, filename, size } = file;
      const kind = await kindOfStoredFile(
        tx,
        id,
        { given: givenKind, confirmed: given.confirm === 'true', options },
        where,
      );
      await markUploaded(tx, id, { kind, filename: filename || null, options, size });
      await audit(c, { action: 'import.create', entity: 'import', entity_id: id, data: { kind, size } }, tx);
      return (await findImport(tx, id))!;
    });
    if (jobs) await enqueueImport(jobs, row.id);
    return c.json(importToJson(row), 202);
  }

  app.openapi(preview, async (c) => {
    if (!RAW_CSV.test(c.req.header('content-type') ?? '')) {
      throw new AppError(415, 'unsupported-media-type', 'Send the file (or its first lines) as text/csv', [
        { path: 'content-type', in: 'header', message: 'must be text/csv or application/octet-stream' },
      ]);
    }
    const { kind, ...fields } = c.req.valid('query');
    const body = (c.req.raw.body ?? []) as AsyncIterable<Buffer>;
    const { sql, config, clock } = c.var.deps;
    const context = {
      now: clock(),
      maxAgeHours: config.IMPORT_TRIGGER_MAX_AGE_HOURS,
      purchaseTriggers: await countPurchaseTriggers(sql),
    };
    return c.json(await previewCsv(kind, body, importOptions(fields), context), 200);
  });

  app.openapi(list, async (c) => {
    const query = c.req.valid('query');
    const cursor = decodeCursor(query.cursor, CursorShape);
    const rows = await listImports(c.var.deps.sql, {
      limit: query.limit,
      beforeId: cursor?.id,
      kind: query.kind,
      status: query.status,
    });
    const { data, next_cursor } = page(rows, query.limit, (row) => ({ id: row.id }));
    return c.json({ data: data.map(importSummary), next_cursor }, 200);
  });

  app.openapi(get, async (c) => {
    const row = await findImport(c.var.deps.sql, c.req.valid('param').id);
    if (!row) throw notFound('import');
    const errors = row.rows_failed > 0 ? await selectErrors(c.var.deps.sql, row.id, null, ERRORS_SHOWN) : [];
    return c.json(importToJson(row, errors), 200);
  });

  app.openapi(errors, async (c) => {
    const id = c.req.valid('param').id;
    const { sql } = c.var.deps;
    if (!(await findImport(sql, id))) throw notFound('import');
    let last: ImportError | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('line,column,reason\n'));
      },
      async pull(controller) {
        const rows = await selectErrors(sql, id, last, 5000);
        if (rows.length === 0) return controller.close();
        last = rows[rows.length - 1]!;
        controller.enqueue(
          new TextEncoder().encode(stringify(rows.map((r) => [r.line, r.column ?? '', r.reason]))),
        );
      },
    });
    return c.body(body, 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="import-${id}-errors.csv"`,
    }) as never;
  });
}
