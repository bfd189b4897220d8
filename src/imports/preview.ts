import { parse as parseStream } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { invalid } from '../http/problem.js';
import { readPurchaseDate } from './dates.js';
import { historyCutoff, type TriggerMode } from './history.js';
import { recordStartLine } from './lines.js';
import {
  type ColumnMap,
  confirmationReasons,
  type ImportKind,
  ignoredColumns,
  inferKind,
  lineIdSource,
  noKindMessage,
  REQUIRED,
  resolveMapping,
} from './mapping.js';
import { decode, openCsv, type ReadOptions } from './source.js';

/** Records shown in a preview. */
export const PREVIEW_ROWS = 10;
/** Bytes after the header read for them at most (the count of automations reads the whole body). */
const PREVIEW_BYTES = 256 * 1024;

/** What a purchases import would fire, counted over the body the preview was given. */
export interface TriggerForecast {
  mode: TriggerMode;
  max_age_hours: number;
  /** Orders in the body (lines grouped by customer and order reference). */
  orders: number;
  /** Orders bought within max_age_hours (the others are history and fire nothing by default). */
  recent_orders: number;
  /** Enabled automations on purchases. */
  purchase_triggers: number;
  /** At most this many emails (each firing order × each purchase automation; filters and caps send fewer). */
  emails: number;
  /** Records counted (the whole body given, which may be only the head of the file). */
  records: number;
}

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
  /** How many columns feed no field. */
  ignored_columns: number;
  /** The upload must say `confirm=true` (the kind was guessed, or most columns are ignored). */
  needs_confirmation: boolean;
  /** Why, one reason a line. */
  confirmation_reasons: string[];
  /** The first records as the import will read them: line number and each mapped field's text. */
  sample: { line: number; values: Record<string, string> }[];
  /** Purchases: the automations the import would fire; null for customers. */
  triggers: TriggerForecast | null;
}

export interface PreviewContext {
  now: Date;
  maxAgeHours: number;
  /** Enabled automations on purchases (the route counts them). */
  purchaseTriggers: number;
}

/** Counts orders and recent orders of a purchases body, record by record. */
class OrderCounter {
  private readonly all = new Set<string>();
  private readonly recent = new Set<string>();
  records = 0;
  constructor(
    private readonly map: ColumnMap,
    private readonly cutoff: Date | null,
    private readonly timezone: string,
  ) {}

  add(record: string[]): void {
    this.records++;
    const cell = (field: string) => {
      const index = this.map.get(field);
      return index === undefined ? '' : (record[index]?.trim() ?? '');
    };
    const lineId = lineIdSource(this.map);
    const line = lineId && 'line' in lineId ? (record[lineId.line]?.trim() ?? '') : '';
    const key = `${cell('customer_external_id')}\u0000${cell('order_ref') || line || this.records}`;
    this.all.add(key);
    const at = readPurchaseDate(cell('purchased_at'), this.timezone);
    if (at && (this.cutoff === null || at >= this.cutoff)) this.recent.add(key);
  }

  forecast(mode: TriggerMode, context: PreviewContext): TriggerForecast {
    const recent = mode === 'none' ? 0 : this.recent.size;
    return {
      mode,
      max_age_hours: context.maxAgeHours,
      orders: this.all.size,
      recent_orders: this.recent.size,
      purchase_triggers: context.purchaseTriggers,
      emails: recent * context.purchaseTriggers,
      records: this.records,
    };
  }
}

/** Parses a byte stream's CSV records as they come, for the count (decoded chunk by chunk). */
function recordStream(
  separator: string,
  encoding: 'utf-8' | 'windows-1252',
  onRecord: (r: string[]) => void,
) {
  const parser = parseStream({
    delimiter: separator,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  });
  parser.on('data', onRecord);
  const done = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  const decoder = encoding === 'utf-8' ? new TextDecoder('utf-8') : iconv.getDecoder('win1252');
  const text = (piece: Buffer) =>
    decoder instanceof TextDecoder ? decoder.decode(piece, { stream: true }) : decoder.write(piece);
  return {
    write: (piece: Buffer) => parser.write(text(piece)),
    async end() {
      const rest = decoder instanceof TextDecoder ? decoder.decode() : (decoder.end() ?? '');
      if (rest) parser.write(rest);
      parser.end();
      await done;
    },
  };
}

/**
 * How an import would read a file, from its first bytes: the kind (inferred from the header when
 * not given), the sniffed (or given) separator and encoding, which column feeds which field,
 * the first records, whether the upload must be confirmed and, for purchases, how many
 * automations it would fire (over the whole body given). A header that does not map throws the
 * same 422 the import would end with, naming `mapping.<field>` (or `kind` when none was given
 * and none fits).
 */
export async function previewCsv(
  given: ImportKind | undefined,
  source: AsyncIterable<Buffer>,
  options: ReadOptions & {
    mapping?: Record<string, string> | undefined;
    timezone?: string | undefined;
    triggers?: TriggerMode | undefined;
  },
  context: PreviewContext = { now: new Date(), maxAgeHours: 24, purchaseTriggers: 0 },
): Promise<ImportPreview> {
  const csv = await openCsv(source, options);
  const kind = given ?? inferKind(csv.header, options.mapping);
  if (!kind) throw invalid([{ path: 'kind', in: 'query', message: noKindMessage(csv.header) }]);
  const map = resolveMapping(kind, csv.header, options.mapping);
  const fieldOf = new Map([...map].map(([field, index]) => [index, field]));
  const mode = options.triggers ?? 'recent';
  const timezone = options.timezone || 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid([{ path: 'timezone', in: 'query', message: `unknown time zone "${timezone}"` }]);
  }
  const counter =
    kind === 'purchases'
      ? new OrderCounter(map, historyCutoff(mode, context.now, context.maxAgeHours), timezone)
      : undefined;
  const counting = counter ? recordStream(csv.separator, csv.encoding, (r) => counter.add(r)) : undefined;
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of csv.data) {
    counting?.write(piece);
    if (length < PREVIEW_BYTES) {
      pieces.push(piece);
      length += piece.length;
    } else if (!counting) break;
  }
  await counting?.end();
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
  const reasons = confirmationReasons({ given, kind, header: csv.header }, map);
  return {
    kind,
    separator: csv.separator,
    encoding: csv.encoding,
    decimal_comma: csv.decimalComma,
    header: csv.header,
    required: [...REQUIRED[kind]],
    columns: csv.header.map((header, index) => ({ header, field: fieldOf.get(index) ?? null })),
    ignored_columns: ignoredColumns(csv.header, map),
    needs_confirmation: reasons.length > 0,
    confirmation_reasons: reasons,
    sample: records.map(({ record, info, raw }) => ({
      line: recordStartLine(1, info, raw),
      values: Object.fromEntries(
        [...map]
          .filter(([, index]) => index < record.length)
          .map(([field, index]) => [field, record[index]!]),
      ),
    })),
    triggers: counter ? counter.forecast(mode, context) : null,
  };
}
