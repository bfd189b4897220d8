import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { nulByteErrors } from './nul-bytes.js';
import { AppError, type FieldError, invalid } from './problem.js';

export const NDJSON = 'application/x-ndjson';

/**
 * Reads a batch body: a JSON array, or NDJSON (one JSON value per line, blank lines ignored) when
 * the content type says so; `single` turns a lone JSON object into rows. Unparseable text is a 400 naming the line; a wrong shape or size a 422.
 */
export async function readBatchBody(
  c: Context<AppEnv>,
  options: { max: number; single?: (value: object) => unknown[] | undefined },
): Promise<unknown[]> {
  const type = c.req.header('content-type') ?? '';
  const body = await c.req.text();
  let rows: unknown;
  if (type.toLowerCase().startsWith(NDJSON)) {
    const errors: FieldError[] = [];
    const values: unknown[] = [];
    const lines = body.split('\n');
    for (const [i, raw] of lines.entries()) {
      const line = raw.trim();
      if (!line) continue;
      try {
        values.push(JSON.parse(line));
      } catch {
        errors.push({ path: '', in: 'body', line: i + 1, message: 'not valid JSON' });
        if (errors.length >= 100) break;
      }
    }
    if (errors.length > 0) {
      throw new AppError(
        400,
        'malformed-json',
        `The NDJSON body has ${errors.length} unreadable line(s)`,
        errors,
      );
    }
    rows = values;
  } else {
    try {
      rows = JSON.parse(body);
    } catch {
      throw new AppError(400, 'malformed-json', 'The request body is not valid JSON', [
        { path: '', in: 'body', message: 'malformed JSON' },
      ]);
    }
  }
  // A route may also take one object (or an envelope of rows) where a batch is expected.
  if (!Array.isArray(rows) && options.single && typeof rows === 'object' && rows !== null) {
    rows = options.single(rows);
  }
  if (!Array.isArray(rows)) {
    throw invalid([{ path: '', in: 'body', message: `expected a JSON array of rows (or ${NDJSON})` }]);
  }
  if (rows.length === 0) throw invalid([{ path: '', in: 'body', message: 'the batch is empty' }]);
  if (rows.length > options.max) {
    throw invalid([
      { path: '', in: 'body', message: `at most ${options.max} rows per request, got ${rows.length}` },
    ]);
  }
  const nul = nulByteErrors(rows, 'body');
  if (nul.length > 0) throw invalid(nul.map((e) => ({ ...e, index: Number(e.path.split('.')[0]) })));
  return rows;
}
