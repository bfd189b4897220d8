import { parse } from 'csv-parse/sync';
import { invalid } from '../http/problem.js';
import { recordStartLine } from './lines.js';
import { type ImportKind, inferKind, noKindMessage, REQUIRED, resolveMapping } from './mapping.js';
import { decode, openCsv, type ReadOptions } from './source.js';

/** Records shown in a preview. */
export const PREVIEW_ROWS = 10;
/** Bytes after the header read for them at most: the rest of the body is not looked at. */
const PREVIEW_BYTES = 256 * 1024;

export interface ImportPreview {
  /** As given, or as the header reads when the caller did not say. */
  kind: ImportKind;
  separator: ',' | ';' | '\t';
  encoding: 'utf-8' | 'windows-1252';
  decimal_comma: boolean;
  header: string[];
  /** The fields a file must have a column for. */
  required: string[];
  /** Each column of the file and the field it feeds (null: the import ignores it). */
  columns: { header: string; field: string | null }[];
  /** The first records as the import will read them: line number and each mapped field's text. */
  sample: { line: number; values: Record<string, string> }[];
}

/**
 * How an import would read a file, from its first bytes: the kind (inferred from the header when
 * not given), the sniffed (or given) separator and encoding, which column feeds which field,
 * and the first records. A header that does not map throws the same 422 the import would end
 * with, naming `mapping.<field>` (or `kind` when none was given and none fits).
 */
export async function previewCsv(
  given: ImportKind | undefined,
  source: AsyncIterable<Buffer>,
  options: ReadOptions & { mapping?: Record<string, string> | undefined },
): Promise<ImportPreview> {
  const csv = await openCsv(source, options);
  const kind = given ?? inferKind(csv.header, options.mapping);
  if (!kind) throw invalid([{ path: 'kind', in: 'query', message: noKindMessage(csv.header) }]);
  const map = resolveMapping(kind, csv.header, options.mapping);
  const fieldOf = new Map([...map].map(([field, index]) => [index, field]));
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of csv.data) {
    pieces.push(piece);
    length += piece.length;
    if (length >= PREVIEW_BYTES) break;
  }
  let head = Buffer.concat(pieces, length).subarray(0, PREVIEW_BYTES);
  // A record cut by the byte limit is left out rather than shown half.
  if (length > PREVIEW_BYTES) head = head.subarray(0, head.lastIndexOf(0x0a) + 1);
  const records = parse(decode(head, csv.encoding), {
    delimiter: csv.separator,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    to: PREVIEW_ROWS,
    info: true,
    raw: true,
  }) as unknown as { record: string[]; info: { lines: number }; raw: string }[];
  return {
    kind,
    separator: csv.separator,
    encoding: csv.encoding,
    decimal_comma: csv.decimalComma,
    header: csv.header,
    required: [...REQUIRED[kind]],
    columns: csv.header.map((header, index) => ({ header, field: fieldOf.get(index) ?? null })),
    sample: records.map(({ record, info, raw }) => ({
      line: recordStartLine(1, info, raw),
      values: Object.fromEntries(
        [...map]
          .filter(([, index]) => index < record.length)
          .map(([field, index]) => [field, record[index]!]),
      ),
    })),
  };
}
