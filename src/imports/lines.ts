/**
 * Every import names a row by the file line its record starts on, 1-based, the header being
 * line 1: the error report, the preview's sample and the CLI agree, and a record with a quoted
 * newline is named by its first line. csv-parse counts lines up to a record's end; its `raw`
 * text (with `raw: true`) holds the record, after any blank lines skipped before it, so the
 * start is the end less the newlines inside the record.
 */
export function recordStartLine(
  linesBefore: number,
  info: { lines: number },
  raw: string | undefined,
): number {
  if (raw === undefined) return linesBefore + info.lines;
  const record = raw.replace(/^(?:\r?\n)+/, '');
  let inside = 0;
  for (let i = record.indexOf('\n'); i !== -1; i = record.indexOf('\n', i + 1)) inside++;
  if (record.endsWith('\n')) inside--;
  return linesBefore + info.lines - inside;
}
