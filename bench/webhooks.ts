import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startWorkers } from '../src/cli/queue-workers.js';
import { loadConfig } from '../src/config.js';
import { type Bench, type BenchResult, withScratchDatabase } from './harness.js';

// Webhook fan-out: DELIVERIES events (default 100,000, the issue's size; BENCH_SCALE scales it)
// written into webhook_deliveries by webhook_emit, the same function every recorded send, open
// or click goes through, for one subscribed endpoint on a loopback receiver; then the real
// webhook worker (poller, BullMQ queue, claim, Standard Webhooks signature, POST, record) with
// its default concurrency delivers them all. The baseline is bare `fetch` posting the same
// bodies to the same receiver with the same concurrency, in the same run. Customers get ten
// events each, so the in-order-per-customer rule is exercised. It also prints how the cost
// grows: the same at a tenth of the size.

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const DELIVERIES = Math.max(1000, Math.round(100_000 * SCALE));
const CONCURRENCY = 20;

async function startReceiver() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received: () => received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Deliveries per second of the worker for `n` emitted events, and the bodies it posted. */
async function workerRate(
  n: number,
  receiver: { url: string; received: () => number },
): Promise<{ rate: number; bodies: string[] }> {
  const receiverUrl = receiver.url;
  const before = receiver.received();
  return withScratchDatabase('webhooks', 10, async (sql, url) => {
    await sql`insert into webhook_endpoints (url, events, secret)
      values (${receiverUrl}, ${['message.sent']}, ${`whsec_${randomBytes(24).toString('base64')}`})`;
    await sql`select webhook_emit('message.sent', g / 10, 'ce_' || g, now(),
        jsonb_build_object('customer_id', g / 10, 'message_id', g, 'campaign_id', 1, 'at', now()))
      from generate_series(1, ${n}) g`;
    const bodies = (await sql<{ body: string }[]>`select payload::text as body from webhook_deliveries`).map(
      (r) => r.body,
    );
    const config = {
      ...loadConfig(),
      DATABASE_URL: url,
      WEBHOOK_ALLOW_PRIVATE: true,
      LOG_LEVEL: 'warn' as const,
    };
    const started = performance.now();
    const workers = await startWorkers({
      config,
      roles: ['webhook'],
      env: { QUEUE_PREFIX: `bench-webhooks-${randomBytes(3).toString('hex')}`, WEBHOOK_POLL_MS: '100' },
      logger: pino({ level: 'warn' }),
    });
    try {
      // The receiver's count first: a count over the table every 100 ms is a scan of every
      // delivery, which at 500,000 took a core from the worker it measures.
      while (receiver.received() - before < n) await new Promise((r) => setTimeout(r, 100));
      for (;;) {
        const [{ pending }] = (await sql`
          select count(*)::int as pending from webhook_deliveries where status <> 'succeeded'`) as unknown as [
          { pending: number },
        ];
        if (pending === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await workers.close();
    }
    return { rate: n / ((performance.now() - started) / 1000), bodies };
  });
}

/** Posts every body with `fetch`, CONCURRENCY at a time; bodies per second. */
async function fetchRate(bodies: readonly string[], url: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.arrayBuffer();
        if (res.status !== 204) throw new Error(`receiver answered ${res.status}`);
      }
    }),
  );
  return bodies.length / ((performance.now() - started) / 1000);
}

const bench: Bench = {
  name: 'webhooks-fanout',
  async run(): Promise<BenchResult[]> {
    const receiver = await startReceiver();
    try {
      const results: BenchResult[] = [];
      const sizes = [Math.round(DELIVERIES / 10), DELIVERIES];
      const rates: number[] = [];
      for (const n of sizes) {
        const before = receiver.received();
        const worker = await workerRate(n, receiver);
        const got = receiver.received() - before;
        if (got < n) throw new Error(`receiver got ${got} of ${n} deliveries`);
        const baseline = await fetchRate(worker.bodies, receiver.url);
        rates.push(worker.rate);
        results.push({
          name: `webhooks-fanout-${n}`,
          value: worker.rate,
          unit: 'deliveries/s',
          baseline: 'fetch',
          baseline_value: baseline,
          ratio: worker.rate / baseline,
          target: 0.5,
          notes: {
            deliveries: n,
            received: got,
            concurrency: CONCURRENCY,
            // 1 means the cost per delivery does not grow with the backlog.
            ...(rates.length === 2
              ? { rate_large_over_small: Math.round((rates[1]! / rates[0]!) * 100) / 100 }
              : {}),
          },
        });
      }
      return results;
    } finally {
      await receiver.close();
    }
  },
};

export default bench;
