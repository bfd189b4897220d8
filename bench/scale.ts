import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createSql, type Sql } from '../src/db/sql.js';
import { startSmtpSink } from '../src/dev/smtp-sink.js';
import { createRedis, usedMemoryBytes } from '../src/queue/connection.js';
import { createBullDispatcher } from '../src/queue/dispatcher.js';
import { seedCampaignShop } from '../test/helpers/campaign-fixtures.js';
import { ADMIN_URL, urlFor } from '../test/helpers/test-db.js';
import { sendCampaign, startWorkerProcess } from './campaign-e2e.js';
import type { Bench, BenchResult } from './harness.js';

// How the cost of a campaign grows with its audience: the same campaign at N and N/10
// recipients (N = 100,000 × BENCH_SCALE), one worker process with every role, SMTP to a
// discarding sink, over customers seeded by COPY. Printed per size: planned recipients/s, messages/s, the growth of Redis's
// memory over the run (sampled, against its use before the run: the Redis is shared), and the
// worker's peak RSS. The ratio is messages/s big over small: 1 is linear cost.

/** Peak resident memory of a process (VmHWM), in MB. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

/**
 * The shop at any size: customers by COPY, then one consent and one purchase each written by the
 * server from the customers table (no parameters), offers, template and segment by the fixtures.
 */
async function seedByCopy(sql: Sql, n: number, secret: string) {
  const shop = await seedCampaignShop(sql, 0, secret);
  const lines = async function* () {
    for (let i = 1; i <= n; i += 1000) {
      let chunk = '';
      for (let k = i; k < Math.min(n + 1, i + 1000); k++)
        chunk += `c${k}\tperson${k}@example.org\tName${k}\tTester\t${k % 2 ? 'fr-FR' : 'en-GB'}\n`;
      yield chunk;
    }
  };
  const copy =
    await sql`copy customers (external_id, email, first_name, last_name, locale) from stdin`.writable();
  await pipeline(Readable.from(lines()), copy);
  await sql`
    insert into consents (customer_id, purpose, granted, source)
    select id, 'marketing_email', true, 'bench' from customers`;
  await sql`
    insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
    select 'l' || id, id, case when id % 3 = 0 then 'books' else 'garden' end, 20 + (id % 7) * 30,
      now() - (1 + id % 60) * interval '1 day'
    from customers`;
  await sql`analyze`;
  return shop;
}

async function runAt(customers: number) {
  const name = `offerflow_bench_${randomBytes(4).toString('hex')}`;
  const admin = createSql(ADMIN_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  const url = urlFor(name);
  const sql = createSql(url, { max: 5 });
  const sink = await startSmtpSink({ outboxDir: null });
  const config = loadConfig();
  const redis = createRedis(config.REDIS_URL);
  let worker: ChildProcess | undefined;
  try {
    await migrate(sql);
    const shop = await seedByCopy(sql, customers, config.OFFERFLOW_SECRET);
    const env = {
      DATABASE_URL: url,
      SMTP_URL: sink.url,
      QUEUE_PREFIX: `bench_scale_${randomBytes(3).toString('hex')}`,
      RECONCILE_INTERVAL_MS: '5000',
    };
    worker = await startWorkerProcess(env);
    const jobs = createBullDispatcher(redis, env.QUEUE_PREFIX);
    // On a cluster, the queues' slot lives on one master but the whole server is what grows.
    const memory = () => usedMemoryBytes(redis);
    const before = await memory();
    let peak = before;
    const { campaignId, started } = await sendCampaign(
      sql,
      jobs,
      { name: `scale ${customers}`, segmentId: shop.segmentId, templateId: shop.templateId },
      250,
      async () => {
        peak = Math.max(peak, await memory());
      },
    );
    const [stats] = await sql<{ sent: number; planned_rows: number; last: Date; planned: Date }[]>`
      select count(*) filter (where status = 'sent')::int as sent, count(*)::int as planned_rows,
        max(sent_at) as last, (select planned_at from campaigns where id = ${campaignId}) as planned
      from messages where campaign_id = ${campaignId}`;
    const s = stats!;
    const rss = await peakRssMb(worker.pid!);
    await jobs.close();
    return {
      customers,
      planned: s.planned_rows / ((s.planned.getTime() - started) / 1000),
      rate: s.sent / ((s.last.getTime() - started) / 1000),
      sent: s.sent,
      seconds: (s.last.getTime() - started) / 1000,
      redisMb: Math.round((peak - before) / 104857.6) / 10,
      rssMb: rss,
    };
  } finally {
    if (worker) {
      worker.kill('SIGTERM');
      await new Promise((r) => (worker!.exitCode !== null ? r(null) : worker!.once('exit', r)));
    }
    redis.disconnect();
    await sink.close();
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end({ timeout: 5 });
  }
}

const bench: Bench = {
  name: 'scale',
  async run(): Promise<BenchResult[]> {
    const big = Math.round(100_000 * Number(process.env.BENCH_SCALE || 1));
    const small = await runAt(Math.round(big / 10));
    const large = await runAt(big);
    const notes = (r: typeof small) => ({
      customers: r.customers,
      sent: r.sent,
      seconds: Math.round(r.seconds),
      planned_per_s: Math.round(r.planned),
      redis_growth_mb: r.redisMb,
      worker_peak_rss_mb: r.rssMb,
    });
    return [
      {
        name: `scale (${large.customers} recipients)`,
        value: large.rate,
        unit: 'messages/s',
        baseline: `the same campaign at ${small.customers} recipients`,
        baseline_value: small.rate,
        ratio: large.rate / small.rate,
        target: 0.9,
        notes: notes(large),
      },
      {
        name: `scale (${small.customers} recipients)`,
        value: small.rate,
        unit: 'messages/s',
        baseline: 'itself',
        baseline_value: small.rate,
        ratio: 1,
        notes: notes(small),
      },
    ];
  },
};

export default bench;
