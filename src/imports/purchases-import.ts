import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import {
  attributeCommittedPurchaseRange,
  attributePurchases,
  attributeRefunds,
} from '../conversions/attribute.js';
import { copyIn } from '../db/copy.js';
import type { Db, Sql } from '../db/sql.js';
import { invalid } from '../http/problem.js';
import { CLOCK_SKEW_MS } from '../purchases/record.js';
import { type RecordedTriggerEvents, recordTriggerEvents, type TriggerEvent } from '../triggers/events.js';
import { recordStartLine } from './lines.js';
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
  purchased_at: Date;
}

export interface ImportRunOptions {
  importId: number;
  mapping?: Record<string, string> | undefined;
  /** Time zone of dates without an offset (ERP exports are usually local time). */
  timezone?: string | undefined;
  batchSize?: number | undefined;
  /** Batches run at once, each in its own transaction on its own connection (default 2). */
  concurrency?: number | undefined;
  /** Batches whose end is at or before this file offset were committed by an earlier run. */
  resumeAfterByte?: number | undefined;
  /** File offsets where batches committed by an earlier run end: those are skipped. */
  committedBatches?: ReadonlySet<number> | undefined;
  now: () => Date;
  onProgress?: ((progress: ImportProgress) => void) | undefined;
  /** The trigger events of the lines a batch created: recorded in its transaction, handed on after. */
  triggers?: BatchTriggers<CreatedPurchase> | undefined;
}

/**
 * How a batch hands on the trigger events of what it created: `eventsOf` gives them, the batch's
 * transaction records them in trigger_outbox (so a crash after the commit loses none), and
 * `release` hands them to the queue once the batch has committed.
 */
export interface BatchTriggers<Row> {
  eventsOf: (created: Row[]) => TriggerEvent[];
  release: (recorded: RecordedTriggerEvents) => Promise<void>;
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
  await copyIn(
    tx,
    `copy pg_temp.import_stage (${columns}) from stdin with (format csv, delimiter ${delimiter}, encoding '${options.encoding}')`,
    bytes,
  );
}

/**
 * The slow path for a batch PostgreSQL's COPY refused (a malformed line, a wrong number of
 * fields): csv-parse finds each bad record, and the good ones are copied again, re-encoded.
 */
async function stageRecordByRecord(
  tx: Db,
  csv: OpenedCsv,
  batch: RecordBatch,
  columnNames: readonly (string | undefined)[],
): Promise<StagedBatch> {
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
    raw: true,
  });
  parser.on('skip', (error: Error & { lines?: number }) => {
    errors.push({
      line: batch.firstLine - 1 + (error.lines ?? 1),
      column: null,
      reason: `malformed CSV: ${error.message}`,
    });
  });
  parser.end(decode(batch.bytes, csv.encoding));
  for await (const item of parser as AsyncIterable<{
    record: string[];
    info: { lines: number };
    raw: string;
  }>) {
    const line = recordStartLine(batch.firstLine - 1, item.info, item.raw);
    if (item.record.length !== width) {
      errors.push({ line, column: null, reason: `${item.record.length} fields, the header has ${width}` });
      continue;
    }
    // PostgreSQL text cannot hold U+0000 (COPY refused the batch for it): in a field the import
    // reads it is a row error like any other; a column it does not read is left empty.
    const nul = item.record.findIndex((cell, i) => columnNames[i] !== undefined && cell.includes('\u0000'));
    if (nul >= 0) {
      errors.push({ line, column: columnNames[nul] ?? null, reason: 'must not contain NUL (U+0000)' });
      continue;
    }
    good.push(item.record.map((cell) => (cell.includes('\u0000') ? '' : cell)));
    lineStarts.push(line);
  }
  if (good.length > 0)
    await copyInto(tx, width, Buffer.from(stringify(good)), { delimiter: ',', encoding: 'UTF8' });
  return { lineStarts, errors };
}

/** Rows the batch statement answers: one summary, then the new lines the caller acts on. */
interface BatchRow {
  kind: 'summary' | 'touch' | 'refund' | 'created';
  id: number;
  customer_id: number;
  sku: string | null;
  category: string | null;
  amount: number;
  currency: string;
  purchased_at: Date;
  order_ref: string | null;
  rows: number | null;
  failed: number | null;
  created: number | null;
  /** Summary: the lowest and highest id the batch inserted (null when it inserted none). */
  first_id: number | null;
  last_id: number | null;
}

interface BatchOutcome {
  rows: number;
  createdCount: number;
  failed: number;
  recorded: RecordedTriggerEvents;
  insertedIds: { first: number | null; last: number | null };
}

/** Records per batch: big enough that per-batch costs (a temp table, a plan, a commit) vanish. */
const BATCH_RECORDS = 50_000;
/** And at most this many bytes, so memory stays bounded on files with very wide rows. */
const BATCH_BYTES = 16 * 1024 * 1024;
/**
 * Batches in flight. The work is in PostgreSQL (checks, two indexed inserts and two foreign-key
 * checks per line), one core per connection: a second batch keeps a second core busy while the
 * first one runs, and costs a single core little.
 */
const CONCURRENCY = 2;
/** Deadlock (two batches of one file inserting the same lines crosswise) and serialization failure. */
const RETRYABLE = new Set(['40P01', '40001']);

/** A 422 naming the option, rather than a failed job, for a time zone PostgreSQL does not know. */
async function checkTimezone(sql: Sql, timezone: string): Promise<void> {
  try {
    await sql`select timezone(${timezone}::text, now())`;
  } catch (error) {
    if ((error as { code?: string }).code === '22023')
      throw invalid([{ path: 'timezone', message: `unknown time zone "${timezone}"` }]);
    throw error;
  }
}

/**
 * Imports order lines from a CSV stream: each batch of records is copied by PostgreSQL's own
 * CSV parser into a temporary table, then checked, converted and inserted (purchases and their
 * contact events) by one set-based statement, in one transaction with its errors, conversion
 * attribution and the import's progress. A bad row is reported (line, column, reason) and
 * skipped; a line already present changes nothing. Batches run `concurrency` at a time and may
 * commit out of order; each records itself in the import row, so a resumed run skips exactly
 * the committed ones.
 */
export async function importPurchaseCsv(
  sql: Sql,
  csv: OpenedCsv,
  options: ImportRunOptions,
): Promise<ImportProgress> {
  const map = resolveMapping('purchases', csv.header, options.mapping);
  const statement = purchaseBatchSql(map);
  // The field each column feeds (row errors name it, as the batch statement's do); unread: none.
  const columnNames: (string | undefined)[] = csv.header.map(() => undefined);
  for (const [field, index] of map) columnNames[index] = field;
  const width = csv.header.length;
  const stageColumns = Array.from({ length: width }, (_, i) => `c${i + 1} text`).join(', ');
  const timezone = options.timezone ?? 'UTC';
  await checkTimezone(sql, timezone);
  const wantCreated = options.triggers !== undefined;

  const runBatch = (batch: RecordBatch, end: number): Promise<BatchOutcome> =>
    sql.begin(async (tx) => {
      // The statement's hash tables and CTEs hold one batch: keep them off disk.
      await tx`select set_config('work_mem', '64MB', true)`;
      // A batch need not wait for its WAL to reach the disk at commit: a database crash loses at
      // most the last moments of commits (whole batches, never part of one), and the import is
      // idempotent and resumable: a lost batch is not in committed_batches, so the resumed run
      // imports it again. Its trigger events are in the same transaction (trigger_outbox), so
      // they are lost with it and recorded again by the resumed run.
      await tx`select set_config('synchronous_commit', 'off', true)`;
      await tx.unsafe(
        `create temp table import_stage (n int generated always as identity, ${stageColumns}) on commit drop`,
      );
      let staged: StagedBatch = { lineStarts: batch.lineStarts, errors: [] };
      try {
        await tx.savepoint((sp) =>
          copyInto(sp, width, batch.bytes, { delimiter: csv.separator, encoding: PG_ENCODING[csv.encoding] }),
        );
      } catch {
        staged = await stageRecordByRecord(tx, csv, batch, columnNames);
      }
      const rows = await tx.unsafe<BatchRow[]>(statement, [
        options.importId,
        batch.firstLine,
        staged.lineStarts as never,
        timezone,
        csv.decimalComma,
        new Date(options.now().getTime() + CLOCK_SKEW_MS),
        wantCreated,
      ]);
      await insertErrors(tx, options.importId, staged.errors);
      await attributePurchases(
        tx,
        rows.filter((r) => r.kind === 'touch'),
      );
      await attributeRefunds(
        tx,
        rows.filter((r) => r.kind === 'refund'),
      );
      const summary = rows.find((r) => r.kind === 'summary')!;
      const created = rows
        .filter((r) => r.kind === 'created')
        .map((r) => ({ id: r.id, customer_id: r.customer_id, purchased_at: r.purchased_at }));
      const outcome: BatchOutcome = {
        rows: (summary.rows ?? 0) + staged.errors.length,
        createdCount: summary.created ?? 0,
        failed: (summary.failed ?? 0) + staged.errors.length,
        recorded: await recordTriggerEvents(tx, options.triggers?.eventsOf(created) ?? []),
        insertedIds: { first: summary.first_id, last: summary.last_id },
      };
      // Last, so that the import row is locked only for the commit that follows.
      await addBatch(tx, options.importId, {
        dataOffset: csv.dataOffset,
        bytes: batch.bytes.length,
        end,
        lastLine: batch.firstLine + batch.records,
        rows: outcome.rows,
        created: outcome.createdCount,
        failed: outcome.failed,
      });
      return outcome;
    });

  const total: ImportProgress = { bytesDone: csv.dataOffset, rows: 0, created: 0, failed: 0 };
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const launch = (batch: RecordBatch, end: number) => {
    const task = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const outcome = await runBatch(batch, end);
          total.bytesDone += batch.bytes.length;
          total.rows += outcome.rows;
          total.created += outcome.createdCount;
          total.failed += outcome.failed;
          await options.triggers?.release(outcome.recorded);
          // Clicks stored while the batch ran were not visible to its attribution: attribute its
          // lines again now that they are committed (src/conversions/attribute.ts).
          const { first, last } = outcome.insertedIds;
          if (first !== null && last !== null) await attributeCommittedPurchaseRange(sql, first, last);
          options.onProgress?.({ ...total });
          return;
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (!code || !RETRYABLE.has(code) || attempt >= 5) throw error;
        }
      }
    })()
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => running.delete(task));
    running.add(task);
  };

  const lanes = Math.max(1, options.concurrency ?? CONCURRENCY);
  const batches = splitRecords(csv.data, options.batchSize ?? BATCH_RECORDS, 2, BATCH_BYTES);
  for await (const batch of batches) {
    const end = csv.dataOffset + batch.bytesEnd;
    const committed =
      options.committedBatches?.has(end) ||
      (options.resumeAfterByte !== undefined && end <= options.resumeAfterByte);
    if (committed) {
      total.bytesDone += batch.bytes.length;
      continue;
    }
    while (running.size >= lanes && !failure) await Promise.race(running);
    if (failure) break;
    launch(batch, end);
  }
  await Promise.all(running);
  if (failure) throw failure.error;
  return total;
}
