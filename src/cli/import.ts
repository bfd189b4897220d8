import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { stringify } from 'csv-stringify/sync';
import { loadConfig } from '../config.js';
import { createSql } from '../db/sql.js';
import { AppError } from '../http/problem.js';
import type { ImportKind } from '../imports/mapping.js';
import { importLocalStream } from '../imports/run.js';
import { type ImportError, selectErrors } from '../imports/store.js';
import { optInPolicy } from '../opt-in/requests.js';
import { createRedis } from '../queue/connection.js';
import { createBullDispatcher } from '../queue/dispatcher.js';
import { queuePrefix } from '../queue/queues.js';
import { UsageError } from './usage-error.js';

const USAGE =
  'import customers|purchases FILE.csv [--separator ";"] [--encoding utf-8|windows-1252] [--decimal-comma|--no-decimal-comma] [--timezone Europe/Paris] [--map field=Header ...] [--concurrency 2] [--no-triggers | --all-triggers]';

/** `offerflow import purchases FILE.csv`: streams a local file, shows a progress bar, writes FILE.errors.csv. */
export async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      separator: { type: 'string' },
      encoding: { type: 'string' },
      'decimal-comma': { type: 'boolean' },
      'no-decimal-comma': { type: 'boolean' },
      timezone: { type: 'string' },
      map: { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      'no-triggers': { type: 'boolean' },
      'all-triggers': { type: 'boolean' },
    },
  });
  const [kind, file] = positionals;
  if ((kind !== 'customers' && kind !== 'purchases') || !file) throw new UsageError(USAGE);
  if (values.encoding && values.encoding !== 'utf-8' && values.encoding !== 'windows-1252')
    throw new UsageError(USAGE);
  const separator = values.separator === 'tab' || values.separator === '\\t' ? '\t' : values.separator;
  if (separator && ![',', ';', '\t'].includes(separator))
    throw new UsageError('--separator must be , ; or tab');
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 8))
    throw new UsageError('--concurrency must be a whole number from 1 to 8');
  const mapping = Object.fromEntries(
    (values.map ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new UsageError('--map takes field=Column header');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const size = (await stat(file)).size;
  const config = loadConfig();
  // One connection per batch in flight, and one for the import's own row.
  const sql = createSql(config.DATABASE_URL, { max: (concurrency ?? 2) + 2 });
  const redis = values['no-triggers'] ? undefined : createRedis(config.REDIS_URL);
  const jobs = redis ? createBullDispatcher(redis, queuePrefix()) : undefined;
  const bar = new SingleBar({
    format: ' {bar} {percentage}% | {rows} rows, {created} new, {failed} refused | ETA {eta_formatted}',
    hideCursor: true,
  });
  bar.start(size, 0, { rows: 0, created: 0, failed: 0 });
  try {
    const { importId, progress } = await importLocalStream(
      {
        sql,
        jobs,
        clock: () => new Date(),
        fireTriggers: !values['no-triggers'],
        triggerMaxAgeHours: config.IMPORT_TRIGGER_MAX_AGE_HOURS,
        optIn: optInPolicy(config),
      },
      {
        kind: kind as ImportKind,
        filename: file,
        source: createReadStream(file, { highWaterMark: 1024 * 1024 }),
        options: {
          ...(separator ? { separator: separator as ',' | ';' | '\t' } : {}),
          ...(values.encoding ? { encoding: values.encoding as 'utf-8' | 'windows-1252' } : {}),
          ...(values['decimal-comma'] ? { decimal_comma: true } : {}),
          ...(values['no-decimal-comma'] ? { decimal_comma: false } : {}),
          ...(values.timezone ? { timezone: values.timezone } : {}),
          ...(concurrency ? { concurrency } : {}),
          // Lines older than IMPORT_TRIGGER_MAX_AGE_HOURS fire automations only when asked.
          ...(values['all-triggers'] ? { triggers: 'all' as const } : {}),
          ...(Object.keys(mapping).length > 0 ? { mapping } : {}),
        },
      },
      (p) => bar.update(p.bytesDone, { rows: p.rows, created: p.created, failed: p.failed }),
    );
    bar.update(size);
    bar.stop();
    process.stdout.write(
      `import ${importId}: ${progress.rows} rows, ${progress.created} new, ${progress.rows - progress.created - progress.failed} unchanged, ${progress.failed} refused\n`,
    );
    if (progress.failed > 0) {
      const report = `${file}.errors.csv`;
      // Page by page to the file: a file of a million bad rows must not be held in memory.
      const out = createWriteStream(report);
      out.write('line,column,reason\n');
      for (let after: ImportError | null = null; ; ) {
        const rows = await selectErrors(sql, importId, after, 10_000);
        if (rows.length === 0) break;
        if (!out.write(stringify(rows.map((r) => [r.line, r.column ?? '', r.reason]))))
          await once(out, 'drain');
        after = rows[rows.length - 1]!;
      }
      out.end();
      await finished(out);
      process.stdout.write(`refused rows: ${report}\n`);
    }
    return progress.failed > 0 ? 3 : 0;
  } catch (error) {
    bar.stop();
    if (error instanceof AppError) {
      const detail = error.errors?.map((e) => `  ${e.path}: ${e.message}`).join('\n') ?? '';
      process.stderr.write(`offerflow: ${error.message}\n${detail}\n`);
      return 2;
    }
    throw error;
  } finally {
    await jobs?.close();
    redis?.disconnect();
    await sql.end({ timeout: 5 });
  }
}
