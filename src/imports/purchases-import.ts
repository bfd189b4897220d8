import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { attributePurchases } from '../conversions/attribute.js';
import type { Db, Sql } from '../db/sql.js';
import { CLOCK_SKEW_MS } from '../purchases/record.js';
import { resolveMapping } from './mapping.js';
import { purchaseBatchSql } from './purchase-sql.js';
import { type RecordBatch, splitRecords } from './record-splitter.js';
import { decode, type OpenedCsv } from './source.js';
import { addBatch, insertErrors } from './store.js';

export interface ImportProgress {
  bytesDone: number;
  rows: number;
  created: number;
  failed: number;
}

export interface CreatedPurchase {
  id: number;
  customer_id: number;
}

export interface ImportRunOptions {
  importId: number;
  mapping?: Record<string, string> | undefined;
  /** Time zone of dates without an offset (ERP exports are usually local time). */
  timezone?: string | undefined;
  batchSize?: number | undefined;
  /** Batches whose end is at or before this file offset were committed by an earlier run. */
  resumeAfterByte?: number | undefined;
  now: () => Date;
  onProgress?: ((progress: ImportProgress) => void) | undefined;
  /** Called after each batch commits with the lines it created (to fire triggers). */
  onCommitted?: ((created: CreatedPurchase[]) => Promise<void>) | undefined;
}

interface StagedBatch {
  lineStarts: number[] | null;
  errors: { line: number; column: string | null; reason: string }[];
}

const PG_ENCODING = { 'utf-8': 'UTF8', 'windows-1252': 'WIN1252' } as const;

async function copyInto(
  tx: Db,
  width: number,
  bytes: Buffer,
  options: { delimiter: string; encoding: string },
) {
  const columns = Array.from({ length: width }, (_, i) => `c${i + 1}`).join(', ');
  const delimiter = options.delimiter === '\t' ? String.raw`E'\t'` : `'${options.delimiter}'`;
  const writable = await tx
    .unsafe(
      `copy pg_temp.import_stage (${columns}) from stdin with (format csv, delimiter ${delimiter}, encoding '${options.encoding}')`,
    )
    .writable();
  writable.end(bytes);
  // postgres.js never settles the stream when PostgreSQL refuses the data (the error is dropped
  // once the query has resolved to the stream). So wait until it has sent CopyDone, then ask
  // the connection: a failed COPY leaves the transaction aborted and this query rejects.
  const state = (writable as unknown as { _writableState: { finalCalled: boolean } })._writableState;
  while (!state.finalCalled) await new Promise((resolve) => setImmediate(resolve));
  await tx`select 1`;
}

/**
 * The slow path for a batch PostgreSQL's COPY refused (a malformed line, a wrong number of
 * fields): csv-parse finds each bad record, and the good ones are copied again, re-encoded.
 */
async function stageRecordByRecord(tx: Db, csv: OpenedCsv, batch: RecordBatch): Promise<StagedBatch> {
  const width = csv.header.length;
  const errors: StagedBatch['errors'] = [];
  const good: string[][] = [];
  const lineStarts: number[] = [];
  const parser = parse({
    delimiter: csv.separator,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
  });
  parser.on('skip', (error: Error & { lines?: number }) => {
    errors.push({
      line: batch.firstLine - 1 + (error.lines ?? 1),
      column: null,
      reason: `malformed CSV: ${error.message}`,
    });
  });
  parser.end(decode(batch.bytes, csv.encoding));
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const line = batch.firstLine - 1 + item.info.lines;
    if (item.record.length !== width) {
      errors.push({ line, column: null, reason: `${item.record.length} fields, the header has ${width}` });
      continue;
    }
    good.push(item.record);
    lineStarts.push(line);
  }
  if (good.length > 0)
    await copyInto(tx, width, Buffer.from(stringify(good)), { delimiter: ',', encoding: 'UTF8' });
  return { lineStarts, errors };
}

/**
 * Imports order lines from a CSV stream: each batch of records is copied by PostgreSQL's own
 * CSV parser into a temporary table, checked and inserted in one statement, in one transaction
 * with its errors, contact events, conversion attribution and the import's progress. A bad row
 * is reported (line, column, reason) and skipped; a line already present changes nothing.
 */
export async function importPurchaseCsv(
  sql: Sql,
  csv: OpenedCsv,
  options: ImportRunOptions,
): Promise<ImportProgress> {
  const map = resolveMapping('purchases', csv.header, options.mapping);
  const statement = purchaseBatchSql(map);
  const width = csv.header.length;
  const stageColumns = Array.from({ length: width }, (_, i) => `c${i + 1} text`).join(', ');
  const timezone = options.timezone ?? 'UTC';
  const total: ImportProgress = { bytesDone: csv.dataOffset, rows: 0, created: 0, failed: 0 };
  for await (const batch of splitRecords(csv.data, options.batchSize ?? 20_000, 2)) {
    const bytesDone = csv.dataOffset + batch.bytesEnd;
    if (options.resumeAfterByte !== undefined && bytesDone <= options.resumeAfterByte) continue;
    const created = await sql.begin(async (tx) => {
      await tx.unsafe(
        `create temp table import_stage (n int generated always as identity, ${stageColumns}) on commit drop`,
      );
      let staged: StagedBatch = { lineStarts: batch.lineStarts, errors: [] };
      try {
        await tx.savepoint((sp) =>
          copyInto(sp, width, batch.bytes, { delimiter: csv.separator, encoding: PG_ENCODING[csv.encoding] }),
        );
      } catch {
        staged = await stageRecordByRecord(tx, csv, batch);
      }
      const rows = await tx.unsafe<
        {
          id: number | null;
          customer_id: number;
          sku: string | null;
          category: string | null;
          amount: number;
          currency: string;
          purchased_at: Date;
          failed: number | null;
          rows: number | null;
        }[]
      >(statement, [
        options.importId,
        batch.firstLine,
        staged.lineStarts as never,
        timezone,
        csv.decimalComma,
        new Date(options.now().getTime() + CLOCK_SKEW_MS),
      ]);
      await insertErrors(tx, options.importId, staged.errors);
      const summary = rows[rows.length - 1]!;
      const lines = rows.slice(0, -1) as ((typeof rows)[number] & { id: number })[];
      await attributePurchases(tx, lines);
      const counts = {
        bytesDone,
        lastLine: batch.firstLine + batch.records,
        rows: (summary.rows ?? 0) + staged.errors.length,
        created: lines.length,
        failed: (summary.failed ?? 0) + staged.errors.length,
      };
      await addBatch(tx, options.importId, counts);
      total.rows += counts.rows;
      total.created += counts.created;
      total.failed += counts.failed;
      return lines.map((l) => ({ id: l.id, customer_id: l.customer_id }));
    });
    total.bytesDone = bytesDone;
    if (created.length > 0) await options.onCommitted?.(created);
    options.onProgress?.({ ...total });
  }
  return total;
}
