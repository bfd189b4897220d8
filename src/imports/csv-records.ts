import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import type { OpenedCsv } from './source.js';

/** A row the import reports: its file line, the column when known, and why. */
export type RowError = { line: number; column: string | null; reason: string };

/** One parsed record with csv-parse's info and raw text (for numbering by file line). */
export type CsvRecord = { record: string[]; info: { lines: number }; raw: string };

/**
 * The records of an opened CSV file, as every import reads them: decoded (Windows-1252 files to
 * UTF-8), split by its separator, malformed records reported through `malformed` by file line
 * (those of batches already committed, up to `resumeAfterLine`, are not reported again) and
 * skipped. `bytes()` is how far into the file the reading is, for progress and resumption;
 * `fed` settles once the whole file went to the parser.
 */
export function csvRecords(
  csv: OpenedCsv,
  resumeAfterLine: number,
  malformed: (error: RowError) => void,
): { records: AsyncIterable<CsvRecord>; bytes(): number; fed: Promise<void> } {
  let bytes = csv.dataOffset;
  const counted = (async function* () {
    for await (const chunk of csv.data) {
      bytes += chunk.length;
      yield chunk;
    }
  })();
  const text =
    csv.encoding === 'utf-8'
      ? counted
      : (async function* () {
          const decoder = iconv.getDecoder('win1252');
          for await (const chunk of counted) yield Buffer.from(decoder.write(chunk), 'utf8');
        })();
  const parser = parse({
    delimiter: csv.separator,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
  });
  parser.on('skip', (error: Error & { lines?: number }) => {
    const line = 1 + (error.lines ?? 0);
    if (line > resumeAfterLine) malformed({ line, column: null, reason: `malformed CSV: ${error.message}` });
  });
  const fed = (async () => {
    for await (const chunk of text)
      if (!parser.write(chunk)) await new Promise((r) => parser.once('drain', r));
    parser.end();
  })();
  return { records: parser as AsyncIterable<CsvRecord>, bytes: () => bytes, fed };
}
