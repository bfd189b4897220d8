import { describe, expect, it } from 'vitest';
import { neutralizeFormula, toCsv } from './csv.js';

describe('csv', () => {
  it('prefixes cells a spreadsheet would evaluate', () => {
    for (const bad of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx']) {
      expect(neutralizeFormula(bad)).toBe(`'${bad}`);
    }
    expect(neutralizeFormula('Spring sale')).toBe('Spring sale');
  });

  it('writes a header, quotes where needed and leaves numbers alone', () => {
    const csv = toCsv(
      ['name', 'sent'],
      [
        { name: '=HYPERLINK("http://evil")', sent: -3 },
        { name: 'a, b', sent: 2 },
      ],
    );
    expect(csv).toBe(`name,sent\n"'=HYPERLINK(""http://evil"")",-3\n"a, b",2\n`);
  });
});
