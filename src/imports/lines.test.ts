import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { recordStartLine } from './lines.js';

describe('recordStartLine', () => {
  it('names each record by the file line it starts on, blank lines and quoted newlines included', () => {
    const data = '1,a\n\n2,"multi\nline"\n3,c';
    const records = parse(data, { info: true, raw: true, skip_empty_lines: true }) as unknown as {
      record: string[];
      info: { lines: number };
      raw: string;
    }[];
    // The header was line 1, so data starts on line 2.
    expect(records.map((r) => [r.record[0], recordStartLine(1, r.info, r.raw)])).toEqual([
      ['1', 2],
      ['2', 4],
      ['3', 6],
    ]);
  });
});
