import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { importLocalStream } from '../src/imports/run.js';
import { type Bench, type BenchResult, withScratchDatabase } from './harness.js';

// Importing N purchase lines (default 1,000,000) from a CSV file through the real import path
// (offerflow import purchases: validation, customer lookup, purchases + contact events, conversion
// attribution, progress, per-batch transactions) against a raw COPY of the same file into a
// scratch table of text columns, in the same run and database. Peak RSS sampled every 50 ms.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(1000, Math.round(1_000_000 * SCALE));
const CUSTOMERS = 50_000;

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

        // Baseline: PostgreSQL's COPY of the same bytes into a scratch table.
        await sql`create table scratch_copy (a text, b text, c text, d text, e text, f text, g text, h text, i text)`;
        const copyStarted = performance.now();
        const writable = await sql`copy scratch_copy from stdin with (format csv, header true)`.writable();
        await new Promise<void>((resolve, reject) => {
          createReadStream(file, { highWaterMark: 1024 * 1024 })
            .pipe(writable as unknown as Writable)
            .on('finish', resolve)
            .on('error', reject);
        });
        const copySeconds = (performance.now() - copyStarted) / 1000;

        let peak = process.memoryUsage().rss;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 50);
        const started = performance.now();
        const { progress } = await importLocalStream(
          { sql, clock: () => new Date() },
          {
            kind: 'purchases',
            filename: file,
            source: createReadStream(file, { highWaterMark: 1024 * 1024 }),
            options: {},
          },
        );
        const seconds = (performance.now() - started) / 1000;
        clearInterval(sampler);
        if (progress.created !== N) throw new Error(`imported ${progress.created} of ${N} lines`);
        const rate = N / seconds;
        const copyRate = N / copySeconds;
        return [
          {
            name: `import ${N} purchase lines from CSV`,
            value: rate,
            unit: 'rows/s',
            baseline: 'raw COPY into a scratch table',
            baseline_value: copyRate,
            ratio: rate / copyRate,
            target: 0.4,
            notes: {
              seconds: Math.round(seconds * 100) / 100,
              copy_seconds: Math.round(copySeconds * 100) / 100,
              file_mb: Math.round(size / 1e5) / 10,
              peak_rss_mb: Math.round(peak / 1e6),
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
