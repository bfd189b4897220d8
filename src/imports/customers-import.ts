import { type CustomerInput, CustomerInputSchema } from '../customers/schema.js';
import { batchPath, upsertCustomers } from '../customers/upsert.js';
import type { Db, Sql } from '../db/sql.js';
import { nulByteErrors } from '../http/nul-bytes.js';
import { AppError, zodToFieldErrors } from '../http/problem.js';
import type { OptInPolicy } from '../opt-in/requests.js';
import { recordTriggerEvents } from '../triggers/events.js';
import { csvRecords, type RowError } from './csv-records.js';
import { recordStartLine } from './lines.js';
import { resolveMapping } from './mapping.js';
import type { BatchTriggers, ImportProgress, ImportRunOptions } from './purchases-import.js';
import type { OpenedCsv } from './source.js';
import { addBatch, insertErrors } from './store.js';
import { readYesNo, YES_NO_HINT } from './yes-no.js';

export interface CreatedCustomer {
  id: number;
}

const FRENCH_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/** `25/12/1980` → `1980-12-25`; anything else is left for the schema to judge. */
function isoDate(value: string): string {
  const match = FRENCH_DATE.exec(value);
  return match ? `${match[3]}-${match[2]!.padStart(2, '0')}-${match[1]!.padStart(2, '0')}` : value;
}

const CONSENT_PREFIX = 'consents.';

/**
 * Writes one batch: rows the upsert refuses (erased, bad attributes) are reported and the rest
 * retried. The rows, their errors, their trigger events and the import's progress (`record`)
 * commit together, so a resumed import neither skips nor repeats any of them. Consent columns
 * go through the upsert's consent step with the install's opt-in policy: under double opt-in a
 * marketing yes opens a confirmation request (mailed by the senders) and grants nothing yet.
 */
async function writeBatch(
  sql: Sql,
  importId: number,
  rows: { line: number; input: CustomerInput }[],
  errors: RowError[],
  triggers: BatchTriggers<CreatedCustomer> | undefined,
  optIn: OptInPolicy | undefined,
  record: (tx: Db, written: { results: unknown[]; created: CreatedCustomer[] }) => Promise<void>,
) {
  let pending = rows;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await sql.begin(async (tx) => {
        const results = await upsertCustomers(
          tx,
          pending.map((r) => r.input),
          batchPath,
          optIn,
          `import:${importId}`,
        );
        await insertErrors(tx, importId, errors);
        const created = results.filter((r) => r.status === 'created').map((r) => ({ id: r.id }));
        const recorded = await recordTriggerEvents(tx, triggers?.eventsOf(created) ?? []);
        await record(tx, { results, created });
        return { results, created, recorded };
      });
    } catch (error) {
      if (!(error instanceof AppError) || !error.errors || attempt === 2) throw error;
      const bad = new Set<number>();
      for (const e of error.errors) {
        const index = e.index ?? Number(String(e.path).split('.')[0]);
        if (!Number.isInteger(index) || !pending[index]) throw error;
        bad.add(index);
        errors.push({
          line: pending[index]!.line,
          column: String(e.path).split('.').slice(1).join('.') || null,
          reason: e.message,
        });
      }
      pending = pending.filter((_, i) => !bad.has(i));
    }
  }
  throw new Error('unreachable');
}

/**
 * Imports customers from a CSV stream through the same upsert as the API (by external_id),
 * a batch per transaction; invalid rows are reported by line and column and skipped.
 */
export async function importCustomerCsv(
  sql: Sql,
  csv: OpenedCsv,
  options: Omit<ImportRunOptions, 'triggers'> & {
    triggers?: BatchTriggers<CreatedCustomer> | undefined;
    /** The last line of the batches an earlier run committed (`imports.committed_line`). */
    resumeAfterLine?: number | undefined;
    /** How marketing grants are taken (the API's policy); absent: recorded as given. */
    optIn?: OptInPolicy | undefined;
  },
): Promise<ImportProgress> {
  const map = resolveMapping('customers', csv.header, options.mapping);
  const total: ImportProgress = { bytesDone: csv.dataOffset, rows: 0, created: 0, failed: 0 };
  const size = options.batchSize ?? 1000;
  let rows: { line: number; input: CustomerInput }[] = [];
  let errors: RowError[] = [];
  let lastLine = 1;
  // A resumed import (its worker died) skips the records of the batches already committed.
  const resumeAfterLine = options.resumeAfterLine ?? 0;
  const csvStream = csvRecords(csv, resumeAfterLine, (e) => errors.push(e));
  const flush = async () => {
    const seen = rows.length + errors.length;
    const { results, created, recorded } = await writeBatch(
      sql,
      options.importId,
      rows,
      errors,
      options.triggers,
      options.optIn,
      (tx, written) =>
        addBatch(tx, options.importId, {
          // The position read so far, absolute (a resumed run reads the file from its start).
          dataOffset: csvStream.bytes(),
          bytes: 0,
          lastLine,
          rows: seen,
          created: written.created.length,
          failed: seen - written.results.length,
        }),
    );
    const failed = seen - results.length;
    total.rows += seen;
    total.created += created.length;
    total.failed += failed;
    total.bytesDone = csvStream.bytes();
    rows = [];
    errors = [];
    await options.triggers?.release(recorded);
    options.onProgress?.({ ...total });
  };
  for await (const item of csvStream.records) {
    const line = recordStartLine(1, item.info, item.raw);
    if (line <= resumeAfterLine) continue;
    lastLine = line;
    if (item.record.length !== csv.header.length) {
      errors.push({
        line,
        column: null,
        reason: `${item.record.length} fields, the header has ${csv.header.length}`,
      });
    } else {
      const value: Record<string, string> = {};
      const consents: Record<string, boolean> = {};
      const cellErrors: RowError[] = [];
      for (const [field, index] of map) {
        const cell = item.record[index]?.trim();
        if (!cell) continue;
        if (field.startsWith(CONSENT_PREFIX)) {
          const granted = readYesNo(cell);
          if (granted === undefined) cellErrors.push({ line, column: field, reason: YES_NO_HINT });
          else consents[field.slice(CONSENT_PREFIX.length)] = granted;
        } else
          value[field] =
            field === 'birth_date' ? isoDate(cell) : field === 'email' ? cell.toLowerCase() : cell;
      }
      const nul = nulByteErrors(value);
      const parsed = CustomerInputSchema.safeParse(
        Object.keys(consents).length > 0 ? { ...value, consents } : value,
      );
      if (nul.length > 0) for (const e of nul) errors.push({ line, column: e.path, reason: e.message });
      else if (cellErrors.length > 0) errors.push(...cellErrors);
      else if (parsed.success) rows.push({ line, input: parsed.data });
      else
        for (const e of zodToFieldErrors(parsed.error))
          errors.push({ line, column: e.path || null, reason: e.message });
    }
    if (rows.length + errors.length >= size) await flush();
  }
  await csvStream.fed;
  if (rows.length + errors.length > 0) await flush();
  return total;
}
