import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Sql } from '../src/db/sql.js';
import { createApiKey } from '../src/http/api-keys.js';
import { importLocalStream } from '../src/imports/run.js';
import { signInWithKey } from '../test/helpers/ui-login.js';
import { type Bench, type BenchResult, withScratchDatabase } from './harness.js';

// Importing N purchase lines (default 1,000,000) from a CSV file through the real import path
// (offerflow import purchases: validation, customer lookup, purchases + contact events, conversion
// attribution, progress, per-batch transactions) against a raw COPY of the same file into a
// scratch table created `like purchases including all` (same column types, defaults and indexes),
// in the same run and database, before and after the import (the mean counts). Peak RSS sampled
// every 50 ms, for the import and for the same file uploaded through POST /v1/imports and through
// the web UI's import form (which relays it to the API as it arrives).
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(1000, Math.round(1_000_000 * SCALE));
const CUSTOMERS = 50_000;
/** Batches in flight (the import's default); BENCH_IMPORT_CONCURRENCY=1 measures one at a time. */
const CONCURRENCY = Number(process.env.BENCH_IMPORT_CONCURRENCY ?? 2);

async function writeCsv(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write(
    'external_line_id,customer_external_id,order_ref,sku,category,quantity,amount,currency,purchased_at\n',
  );
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(
      `L${i},c${i % CUSTOMERS},O${i >> 1},SKU-${i % 997},cat${i % 13},${1 + (i % 3)},${((i % 5000) / 100 + 1).toFixed(2)},EUR,2024-0${1 + (i % 9)}-1${i % 9}T10:00:00Z\n`,
    );
    if (lines.length === 10_000) {
      if (!out.write(lines.join(''))) await new Promise((r) => out.once('drain', () => r(undefined)));
      lines.length = 0;
    }
  }
  out.end(lines.join(''));
  await new Promise((r) => out.once('finish', () => r(undefined)));
}

/**
 * The baseline: PostgreSQL's COPY of the same bytes into a scratch table shaped like purchases
 * (same column types, defaults and indexes; the customer column is text, as the file names
 * customers by external id, and there is no foreign key to check). Returns its seconds.
 */
async function copyBaseline(sql: Sql, file: string): Promise<number> {
  await sql`create table scratch_copy (like purchases including all)`;
  await sql`alter table scratch_copy alter column customer_id type text`;
  // Each side starts from a clean slate rather than behind the other's dirty pages.
  await sql`checkpoint`.catch(() => undefined);
  const started = performance.now();
  const writable = await sql`
    copy scratch_copy (external_line_id, customer_id, order_ref, sku, category, quantity, amount,
      currency, purchased_at)
    from stdin with (format csv, header true)`.writable();
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), writable);
  const seconds = (performance.now() - started) / 1000;
  await sql`drop table scratch_copy`;
  await sql`checkpoint`.catch(() => undefined);
  return seconds;
}

/** Samples the process's resident memory every 50 ms until stopped; returns the peak. */
function peakRss() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

/**
 * POST /v1/imports of the same file through a real HTTP server, the multipart body streamed from
 * disk (the file is far over the default BODY_LIMIT_BYTES): time and peak RSS of client and
 * server together, which must not grow with the file. The stored upload is then dropped.
 */
async function uploadOverHttp(
  sql: Sql,
  file: string,
  via: 'api' | 'ui',
): Promise<{ seconds: number; peak: number }> {
  const config = { ...loadConfig(), LOG_LEVEL: 'silent' as const };
  const app = createApp({ sql, config, logger: pino({ level: 'silent' }), clock: () => new Date() });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const { key } = await createApiKey(sql, { name: 'bench', role: 'integrator' });
    const port = (server.address() as AddressInfo).port;
    // The page's form: signed in with the key, its CSRF token first, the options after the file.
    const page = via === 'ui' ? await signInToUi(`http://127.0.0.1:${port}`, key) : undefined;
    const boundary = 'offerflow-bench-boundary';
    const field = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    async function* body() {
      yield Buffer.from(
        (page ? field('_csrf', page.csrf) : field('kind', 'purchases')) +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="purchases.csv"\r\n` +
          'Content-Type: text/csv\r\n\r\n',
      );
      yield* createReadStream(file, { highWaterMark: 256 * 1024 });
      yield Buffer.from(`\r\n${page ? field('kind', 'purchases') : ''}--${boundary}--\r\n`);
    }
    const sampler = peakRss();
    const started = performance.now();
    // node:http as the client: it writes as fast as the server reads (undici's fetch, given a
    // stream body, read the file far ahead of the server here, which would blur the figure).
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      path: page ? '/ui/imports' : '/v1/imports',
      method: 'POST',
      headers: {
        ...(page ? { cookie: page.cookie } : { authorization: `Bearer ${key}` }),
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
    });
    const answered = once(request, 'response') as Promise<[IncomingMessage]>;
    await pipeline(Readable.from(body()), request);
    const [res] = await answered;
    let text = '';
    for await (const piece of res) text += piece;
    const seconds = (performance.now() - started) / 1000;
    const peak = sampler.stop();
    const id = page
      ? Number(/\/ui\/imports\/(\d+)$/.exec(String(res.headers.location))?.[1])
      : (JSON.parse(text) as { id?: number }).id;
    if (res.statusCode !== (page ? 303 : 202) || !id) {
      throw new Error(`upload answered ${res.statusCode}: ${text.slice(0, 500)}`);
    }
    await sql`delete from imports where id = ${id}`;
    return { seconds, peak };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Signs in to the web UI at `base` with `key`: the session cookie and the import form's CSRF token. */
async function signInToUi(base: string, key: string): Promise<{ cookie: string; csrf: string }> {
  const { session, csrf } = await signInWithKey(
    (path, init) => fetch(`${base}${path}`, init),
    key,
    '/ui/imports',
  );
  if (!session || !csrf) throw new Error('could not sign in to the UI');
  return { cookie: session, csrf };
}

const bench: Bench = {
  name: 'imports',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('imp', 4, async (sql) => {
      const dir = await mkdtemp(join(tmpdir(), 'offerflow-bench-'));
      const file = join(dir, 'purchases.csv');
      try {
        await sql`insert into customers (external_id, email) select 'c' || i, 'c' || i || '@example.com' from generate_series(0, ${CUSTOMERS - 1}) i`;
        await writeCsv(file);
        const size = (await stat(file)).size;

        // The baseline runs before and after the import and the mean counts: on a shared
        // machine the load changes within a run, and this brackets the import with it.
        const copyBefore = await copyBaseline(sql, file);
        const rssBefore = process.memoryUsage().rss;
        const sampler = peakRss();
        const started = performance.now();
        const { progress } = await importLocalStream(
          { sql, clock: () => new Date() },
          {
            kind: 'purchases',
            filename: file,
            source: createReadStream(file, { highWaterMark: 1024 * 1024 }),
            options: { concurrency: CONCURRENCY },
          },
        );
        const seconds = (performance.now() - started) / 1000;
        const importPeak = sampler.stop();
        if (progress.created !== N) throw new Error(`imported ${progress.created} of ${N} lines`);

        const copyAfter = await copyBaseline(sql, file);
        const upload = await uploadOverHttp(sql, file, 'api');
        const uploadUi = await uploadOverHttp(sql, file, 'ui');
        const copySeconds = (copyBefore + copyAfter) / 2;
        const rate = N / seconds;
        const copyRate = N / copySeconds;
        return [
          {
            name: `import ${N} purchase lines from CSV`,
            value: rate,
            unit: 'rows/s',
            baseline: 'raw COPY of the file into a scratch table like purchases (same types and indexes)',
            baseline_value: copyRate,
            ratio: rate / copyRate,
            target: 0.4,
            notes: {
              seconds: Math.round(seconds * 100) / 100,
              copy_seconds_before: Math.round(copyBefore * 100) / 100,
              copy_seconds_after: Math.round(copyAfter * 100) / 100,
              concurrency: CONCURRENCY,
              file_mb: Math.round(size / 1e5) / 10,
              rss_before_mb: Math.round(rssBefore / 1e6),
              peak_rss_mb: Math.round(importPeak / 1e6),
              upload_seconds: Math.round(upload.seconds * 100) / 100,
              upload_peak_rss_mb: Math.round(upload.peak / 1e6),
              upload_ui_seconds: Math.round(uploadUi.seconds * 100) / 100,
              upload_ui_peak_rss_mb: Math.round(uploadUi.peak / 1e6),
            },
          },
        ];
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
};

export default bench;
