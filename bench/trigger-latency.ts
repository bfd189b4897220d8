import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { createApiKey } from '../src/http/api-keys.js';
import type { Bench, BenchResult } from './harness.js';
import { percentiles, startBenchStack } from './stack.js';

// Purchase accepted by the API (POST /v1/purchases answered 201) → the thank-you email accepted
// by the SMTP sink, with a zero delay, one purchase at a time, through the real trigger queue,
// the real sender and SMTP. Baseline: the same sink accepting one pre-rendered nodemailer mail.

const bench: Bench = {
  name: 'trigger-latency',
  async run(): Promise<BenchResult[]> {
    const n = Math.max(20, Math.round(1000 * Number(process.env.BENCH_SCALE ?? 1)));
    const accepted = new Map<number, number>();
    const stack = await startBenchStack('trg', {
      rejectMessage: (raw) => {
        const match = /^X-Offerflow-Message:\s*(\d+)/im.exec(raw.subarray(0, 8192).toString('latin1'));
        if (match) accepted.set(Number(match[1]), performance.now());
        return null;
      },
    });
    const { sql, sink, config, redis, jobs } = stack;
    const clock = () => new Date();
    try {
      const customers = await sql<{ id: number }[]>`
        insert into customers (external_id, email, first_name, timezone)
        select 'b' || i, 'b' || i || '@example.test', 'B' || i, 'Europe/Paris' from generate_series(1, ${n}) i returning id`;
      await sql`insert into consents (customer_id, purpose, granted, source)
        select id, 'marketing_email', true, 'bench' from customers`;
      await sql`insert into triggers (name, event, template_id, template_version) values ('thanks', 'purchase', ${stack.templateId}, 1)`;
      await sql`update trigger_settings set cap_messages = 1000`;
      const deps = { sql, config, logger: pino({ level: 'silent' }), redis, jobs, clock };
      const app = createApp(deps);
      const { key } = await createApiKey(sql, { name: 'bench', role: 'integrator' });
      // The worker roles as deployed (`offerflow worker trigger sender`), in this process.
      await stack.startRoles(['trigger', 'sender'], { SEND_CONCURRENCY: '10', TRIGGER_CONCURRENCY: '4' });

      const latencies: number[] = [];
      for (const [i, c] of customers.entries()) {
        const res = await app.request('/v1/purchases', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            external_line_id: `p${i}`,
            customer_id: c.id,
            amount: 10,
            purchased_at: new Date().toISOString(),
          }),
        });
        if (res.status !== 201) throw new Error(`purchase refused: ${res.status} ${await res.text()}`);
        const acceptedAt = performance.now();
        const deadline = Date.now() + 30_000;
        let messageId: number | undefined;
        for (;;) {
          if (messageId === undefined) {
            const [m] = await sql<
              { id: number }[]
            >`select id from messages where customer_id = ${c.id} and trigger_id is not null`;
            messageId = m?.id;
          }
          const at = messageId === undefined ? undefined : accepted.get(messageId);
          if (at !== undefined) {
            latencies.push(at - acceptedAt);
            break;
          }
          if (Date.now() > deadline) throw new Error(`no mail for purchase ${i} after 30 s`);
          await new Promise((r) => setTimeout(r, 1));
        }
      }

      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: sink.port,
        secure: false,
        pool: true,
        maxConnections: 1,
      });
      const raw: number[] = [];
      for (let i = 0; i < Math.min(n, 300); i++) {
        const started = performance.now();
        await transport.sendMail({
          from: 'a@example.test',
          to: 'b@example.test',
          subject: 'Thanks',
          html: '<p>Thanks</p>',
          text: 'Thanks',
        });
        raw.push(performance.now() - started);
      }
      transport.close();
      const { p50: median, p99, max } = percentiles(latencies);
      const { p50: rawMedian, p99: rawP99 } = percentiles(raw);
      return [
        {
          name: 'trigger-latency median (purchase API → sink)',
          value: median,
          unit: 'ms',
          baseline: 'one pre-rendered nodemailer send to the same sink',
          baseline_value: rawMedian,
          ratio: rawMedian / median,
          notes: {
            purchases: n,
            p99_ms: p99,
            max_ms: max,
          },
        },
        {
          name: 'trigger-latency p99 (purchase API → sink)',
          value: p99,
          unit: 'ms',
          baseline: 'one pre-rendered nodemailer send to the same sink (p99)',
          baseline_value: rawP99,
          ratio: rawP99 / p99,
          notes: { purchases: n },
        },
      ];
    } finally {
      await stack.close();
    }
  },
};

export default bench;
