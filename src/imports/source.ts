import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { invalid } from '../http/problem.js';
import { type Sniffed, sniff } from './sniff.js';

/** How to read a file: given by the caller or sniffed from its head. */
export interface ReadOptions {
  separator?: ',' | ';' | '\t' | undefined;
  encoding?: 'utf-8' | 'windows-1252' | undefined;
  /** Decimal comma (`12,50`): defaults to true when the separator is `;` (French exports). */
  decimal_comma?: boolean | undefined;
}

export interface OpenedCsv {
  header: string[];
  separator: Sniffed['separator'];
  encoding: Sniffed['encoding'];
  decimalComma: boolean;
  /** Offset in the file where data starts (after the BOM and header line). */
  dataOffset: number;
  /** The bytes after the header, in order. */
  data: AsyncIterable<Buffer>;
}

const HEAD_BYTES = 64 * 1024;

export function decode(bytes: Buffer, encoding: Sniffed['encoding']): string {
  return encoding === 'utf-8' ? bytes.toString('utf8') : iconv.decode(bytes, 'win1252');
}

/** Reads the head of a byte stream: sniffs encoding and separator, parses the header line. */
export async function openCsv(source: AsyncIterable<Buffer>, options: ReadOptions = {}): Promise<OpenedCsv> {
  const iterator = source[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < HEAD_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    headChunks.push(next.value);
    headLength += next.value.length;
  }
  const head = Buffer.concat(headChunks, headLength);
  const sniffed = sniff(head);
  const separator = options.separator ?? sniffed.separator;
  const encoding = options.encoding ?? sniffed.encoding;
  const newline = head.indexOf(0x0a, sniffed.bomLength);
  if (headLength === 0 || (newline === -1 && !done)) {
    throw invalid([
      { path: 'file', message: headLength === 0 ? 'the file is empty' : 'no header line in the first 64 KB' },
    ]);
  }
  const headerEnd = newline === -1 ? headLength : newline + 1;
  const headerText = decode(head.subarray(sniffed.bomLength, headerEnd), encoding);
  let header: string[];
  try {
    header = (parse(headerText, { delimiter: separator, to_line: 1 }) as string[][])[0] ?? [];
  } catch (error) {
    throw invalid([
      { path: 'file', message: `header line: ${error instanceof Error ? error.message : String(error)}` },
    ]);
  }
  const rest = head.subarray(headerEnd);
  async function* data(): AsyncGenerator<Buffer> {
    if (rest.length > 0) yield rest;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return {
    header,
    separator,
    encoding,
    decimalComma: options.decimal_comma ?? separator === ';',
    dataOffset: headerEnd,
    data: data(),
  };
}
