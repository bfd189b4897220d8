/** A run of whole CSV records cut from the byte stream. */
export interface RecordBatch {
  bytes: Buffer;
  records: number;
  /** The 1-based file line the batch's first record starts on. */
  firstLine: number;
  /** Start line of every record, only when some record spans several lines (a quoted newline). */
  lineStarts: number[] | null;
  /** Bytes of the file consumed up to the end of this batch. */
  bytesEnd: number;
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Cuts a CSV byte stream into batches of `size` records, or fewer when they reach `maxBytes`,
 * without parsing fields: a newline ends a record when the quotes seen before it are balanced
 * (an escaped quote `""` counts twice, so parity holds). Memory stays bounded by one batch (and
 * one record) whatever the file size.
 */
export async function* splitRecords(
  source: AsyncIterable<Buffer>,
  size: number,
  startLine = 1,
  maxBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<RecordBatch> {
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let quoted = false;
  let records = 0;
  let line = startLine;
  let recordStart = startLine;
  let firstLine = startLine;
  let starts: number[] = [];
  let multiline = false;
  let consumed = 0;

  const take = (tail: Buffer): RecordBatch => {
    const bytes =
      pending.length === 0 ? tail : Buffer.concat([...pending, tail], pendingLength + tail.length);
    consumed += bytes.length;
    const batch: RecordBatch = {
      bytes,
      records,
      firstLine,
      lineStarts: multiline ? starts : null,
      bytesEnd: consumed,
    };
    pending = [];
    pendingLength = 0;
    records = 0;
    starts = [];
    multiline = false;
    firstLine = recordStart;
    return batch;
  };

  for await (const chunk of source) {
    let batchStart = 0;
    let position = 0;
    // Kept across lines so that a file without quotes is scanned for them once per chunk.
    let nextQuote = chunk.indexOf(QUOTE);
    for (;;) {
      const nextNewline = chunk.indexOf(NEWLINE, position);
      const limit = nextNewline === -1 ? chunk.length : nextNewline;
      while (nextQuote !== -1 && nextQuote < limit) {
        quoted = !quoted;
        nextQuote = chunk.indexOf(QUOTE, nextQuote + 1);
      }
      if (nextNewline === -1) break;
      position = nextNewline + 1;
      line++;
      if (quoted) {
        multiline = true;
        continue;
      }
      records++;
      starts.push(recordStart);
      recordStart = line;
      if (records >= size || pendingLength + position - batchStart >= maxBytes) {
        yield take(chunk.subarray(batchStart, position));
        batchStart = position;
      }
    }
    if (batchStart < chunk.length) {
      pending.push(chunk.subarray(batchStart));
      pendingLength += chunk.length - batchStart;
    }
  }
  // A last record without a final newline.
  if (pendingLength > 0) {
    const tail = Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    if (tail.toString('latin1').trim() !== '') {
      records++;
      starts.push(recordStart);
    }
    if (records > 0) yield take(tail);
  } else if (records > 0) {
    yield take(Buffer.alloc(0));
  }
}
