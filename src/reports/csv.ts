import { stringify } from 'csv-stringify/sync';

/**
 * A cell a spreadsheet would run as a formula (starts with = + - @, tab or CR) gets a leading
 * apostrophe (OWASP CSV injection advice). Only text is touched: numbers stay numbers.
 */
export function neutralizeFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** CSV with a header row, every text cell neutralized. */
export function toCsv(columns: string[], rows: Array<Record<string, unknown>>): string {
  return stringify(rows, {
    header: true,
    columns,
    cast: {
      string: neutralizeFormula,
      date: (d) => d.toISOString(),
      boolean: (b) => (b ? 'true' : 'false'),
      object: (o) => neutralizeFormula(JSON.stringify(o)),
    },
  });
}
