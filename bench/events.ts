import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Bench, type BenchResult, withApiServer, withScratchDatabase } from './harness.js';

// Event ingestion through the real HTTP API (a node server on an ephemeral port, POST /v1/events
// in batches of 10,000 Segment-shaped track calls for known customers) against a raw COPY of the
// same rows into a table shaped like `events` with the same indexes, in the same run and
// database. Both sides run over the whole volume (default 100,000 events; BENCH_SCALE=10 runs
// 1,000,000), interleaved batch by batch. The process's resident memory is sampled after each
// batch: it must stay flat whatever the volume, since each batch is read, written and dropped.
// Between full collections V8 lets the old generation fill with the garbage of a few batches
// (a saw-tooth of a few hundred MB whatever the volume), so at every 100,000 events the bench
// also collects fully and prints what is left: resident and heap memory that must not grow.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const BATCH = 10_000;
const BATCHES = Math.max(1, Math.round(10 * SCALE));
const CUSTOMERS = 10_000;
const NAMES = ['cart_updated', 'product_viewed', 'checkout_started', 'search'];

function batch(b: number) {
  const base = Date.now() - 86_400_000;
  return Array.from({ length: BATCH }, (_, i) => {
    const n = b * BATCH + i;
    return {
      type: 'track' as const,
      event: NAMES[n % NAMES.length]!,
      userId: `c${n % CUSTOMERS}`,
      messageId: `m-${n}`,
      timestamp: new Date(base + n).toISOString(),
      properties: { cart_url: `https://shop.example/c/${n}`, value: n % 500, sku: `SKU-${n % 997}` },
    };
  });
}

/** A full collection (the flag exposes gc to a new context; this process keeps its own flags). */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const CHECKPOINT = 100_000;

const csv = (value: string) => `"${value.replace(/"/g, '""')}"`;
const mb = (bytes: number) => Math.round(bytes / 1048576);

/** Resident and heap memory after a full collection at 100,000 events and at the last checkpoint. */
function settledNotes(settled: readonly { events: number; rss: number; heap: number }[]) {
  const first = settled[0];
  const last = settled[settled.length - 1];
  if (!first || !last) return {};
  const label = (n: number) => (n % 1_000_000 === 0 ? `${n / 1_000_000}m` : `${n / 1000}k`);
  return {
    [`rss_settled_${label(first.events)}_mb`]: first.rss,
    [`heap_settled_${label(first.events)}_mb`]: first.heap,
    ...(last !== first
      ? {
          [`rss_settled_${label(last.events)}_mb`]: last.rss,
          [`heap_settled_${label(last.events)}_mb`]: last.heap,
        }
      : {}),
  };
}

const bench: Bench = {
  name: 'events-ingest',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('events', 10, (sql) =>
      withApiServer(sql, async (base, key) => {
        await sql`insert into customers (external_id, email)
        select 'c' || g, 'c' || g || '@example.com' from generate_series(0, ${CUSTOMERS - 1}) g`;
        // The baseline table: the columns, keys and indexes of `events`, unpartitioned.
        await sql`create table bench_copy (
        id bigserial, customer_id bigint not null references customers (id), name text not null,
        properties jsonb not null default '{}', message_id text not null, at timestamptz not null,
        received_at timestamptz not null default now(), primary key (id, at))`;
        await sql`create index on bench_copy (customer_id, name, at desc)`;
        await sql`create index on bench_copy (name, at)`;
        const ids = new Map<string, number>(
          (await sql`select id, external_id from customers`).map((r) => [
            r.external_id as string,
            r.id as number,
          ]),
        );
        let apiSeconds = 0;
        let copySeconds = 0;
        const rss: number[] = [];
        // Memory after a full collection at every 100,000 events.
        const settled: { events: number; rss: number; heap: number }[] = [];
        for (let b = 0; b < BATCHES; b++) {
          const rows = batch(b);
          // Each side's input is serialised before its clock starts (the COPY text below too):
          // the client's JSON.stringify of 10,000 rows is not the server's ingestion.
          const body = JSON.stringify(rows);
          let started = performance.now();
          const res = await fetch(`${base}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body,
          });
          if (res.status !== 201)
            throw new Error(`events answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
          await res.arrayBuffer();
          apiSeconds += (performance.now() - started) / 1000;
          const text = `${rows
            .map((r) =>
              [ids.get(r.userId)!, r.event, csv(JSON.stringify(r.properties)), r.messageId, r.timestamp].join(
                ',',
              ),
            )
            .join('\n')}\n`;
          started = performance.now();
          const writable =
            await sql`copy bench_copy (customer_id, name, properties, message_id, at) from stdin with (format csv)`.writable();
          await pipeline(Readable.from([text]), writable);
          copySeconds += (performance.now() - started) / 1000;
          rss.push(process.memoryUsage().rss);
          const done = (b + 1) * BATCH;
          if (done % CHECKPOINT === 0) {
            collect();
            const m = process.memoryUsage();
            settled.push({ events: done, rss: mb(m.rss), heap: mb(m.heapUsed) });
            process.stderr.write(
              `  ${done.toLocaleString('en')} events: rss ${mb(rss[rss.length - 1]!)} MB, after a full collection rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} MB\n`,
            );
          }
        }
        const total = BATCH * BATCHES;
        const [{ n }] = (await sql`select count(*)::int as n from events`) as unknown as [{ n: number }];
        if (n !== total) throw new Error(`expected ${total} events, found ${n}`);
        const value = total / apiSeconds;
        const baseline = total / copySeconds;
        return [
          {
            name: 'events-ingest',
            value,
            unit: 'events/s',
            baseline: 'COPY',
            baseline_value: baseline,
            ratio: value / baseline,
            target: 0.4,
            notes: {
              events: total,
              batch: BATCH,
              rss_after_first_batch_mb: mb(rss[0]!),
              rss_peak_mb: mb(Math.max(...rss)),
              rss_last_mb: mb(rss[rss.length - 1]!),
              ...settledNotes(settled),
            },
          },
        ];
      }),
    );
  },
};

export default bench;
