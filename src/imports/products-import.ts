import type { Sql } from '../db/sql.js';
import { nulByteErrors } from '../http/nul-bytes.js';
import { parseProducts, recordProducts } from '../products/record.js';
import { csvRecords, type RowError } from './csv-records.js';
import { recordStartLine } from './lines.js';
import { resolveMapping } from './mapping.js';
import type { ImportProgress, ImportRunOptions } from './purchases-import.js';
import type { OpenedCsv } from './source.js';
import { addBatch, insertErrors } from './store.js';
import { readYesNo, YES_NO_HINT } from './yes-no.js';

const NUMBERS = new Set(['price', 'margin', 'stock']);
const FLAGS = new Set(['in_stock', 'active']);

/** A cell as the product schema wants it: numbers (with a decimal comma where the file has one), yes/no flags. */
function cellValue(field: string, cell: string, decimalComma: boolean): unknown {
  if (NUMBERS.has(field)) {
    const normal = decimalComma ? cell.replace(/\s/g, '').replace(',', '.') : cell.replace(/\s/g, '');
    return normal === '' || Number.isNaN(Number(normal)) ? cell : Number(normal);
  }
  if (FLAGS.has(field)) return readYesNo(cell) ?? cell;
  if (field === 'currency') return cell.toUpperCase();
  return cell;
}

/**
 * Imports products from a CSV stream through the same validation and upsert as the API
 * (idempotent on sku), a batch per transaction; bad rows are reported by line and column and
 * skipped. Unmapped columns are left out (a feed's own columns can be mapped to fields).
 */
export async function importProductCsv(
  sql: Sql,
  csv: OpenedCsv,
  options: Omit<ImportRunOptions, 'triggers'> & { resumeAfterLine?: number | undefined },
): Promise<ImportProgress> {
  const map = resolveMapping('products', csv.header, options.mapping);
  const total: ImportProgress = { bytesDone: csv.dataOffset, rows: 0, created: 0, failed: 0 };
  const size = options.batchSize ?? 1000;
  let rows: { line: number; value: Record<string, unknown> }[] = [];
  let errors: RowError[] = [];
  let lastLine = 1;
  const resumeAfterLine = options.resumeAfterLine ?? 0;
  const csvStream = csvRecords(csv, resumeAfterLine, (e) => errors.push(e));
  const flush = async () => {
    // Rows are checked one by one first, so one bad row is reported and the others stored.
    const { errors: invalid } = parseProducts(rows.map((r) => r.value));
    const bad = new Set(invalid.map((e) => e.index));
    for (const e of invalid) {
      errors.push({
        line: rows[e.index!]!.line,
        column: e.path.split('.').slice(1).join('.') || null,
        reason: e.message,
      });
    }
    const good = rows.filter((_, i) => !bad.has(i));
    const seen = rows.length + errors.length - invalid.length;
    const created = await sql.begin(async (tx) => {
      const results =
        good.length > 0
          ? await recordProducts(
              tx,
              good.map((r) => r.value),
            )
          : [];
      await insertErrors(tx, options.importId, errors);
      const n = results.filter((r) => r.status === 'created').length;
      await addBatch(tx, options.importId, {
        dataOffset: csvStream.bytes(),
        bytes: 0,
        lastLine,
        rows: seen,
        created: n,
        failed: seen - good.length,
      });
      return n;
    });
    total.rows += seen;
    total.created += created;
    total.failed += seen - good.length;
    total.bytesDone = csvStream.bytes();
    rows = [];
    errors = [];
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
      const value: Record<string, unknown> = {};
      const cellErrors: RowError[] = [];
      for (const [field, index] of map) {
        const cell = item.record[index]?.trim();
        if (!cell) continue;
        const v = cellValue(field, cell, csv.decimalComma);
        if (FLAGS.has(field) && typeof v !== 'boolean')
          cellErrors.push({ line, column: field, reason: YES_NO_HINT });
        else value[field] = v;
      }
      const nul = nulByteErrors(value);
      if (nul.length > 0) for (const e of nul) errors.push({ line, column: e.path, reason: e.message });
      else if (cellErrors.length > 0) errors.push(...cellErrors);
      else rows.push({ line, value });
    }
    if (rows.length + errors.length >= size) await flush();
  }
  await csvStream.fed;
  if (rows.length + errors.length > 0) await flush();
  return total;
}
