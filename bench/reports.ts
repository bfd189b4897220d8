import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Sql } from '../src/db/sql.js';
import { createApiKey } from '../src/http/api-keys.js';
import { scopeBreakdown } from '../src/reports/store.js';
import { type Bench, type BenchResult, time, withScratchDatabase } from './harness.js';

// The campaign report over 1,000,000 contact events of one campaign (200,000 sent messages,
// two variants, three offers each; 100,000 events of another campaign as noise), through
// GET /v1/reports/campaigns/{id} (auth, validation, the one aggregate statement, offer names,
// rates, z-test, JSON), against the raw SQL aggregate it needs run straight on postgres.js.
// Median of 5 alternating runs after a warm-up. A naive count(distinct) join is timed for context.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const EVENTS = Math.max(20_000, Math.round(1_000_000 * SCALE));
const MESSAGES = EVENTS / 5;
const RUNS = 5;

async function seed(sql: Sql): Promise<number> {
  await sql`insert into offers (name, title, category) select 'offer ' || i, 'Offer ' || i, 'c' || (i % 4) from generate_series(1, 10) i`;
  const [first, second] = await sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('bench', 'sent'), ('noise', 'sent') returning id`;
  const id = first!.id;
  const other = second!.id;
  await sql`insert into customers (external_id) select 'r' || i from generate_series(1, ${MESSAGES}) i`;
  await sql`
    insert into messages (campaign_id, customer_id, variant, offer_ids, status, sent_at)
    select ${id}, c.id, case when c.id % 2 = 0 then 'A' else 'B' end,
           array[1 + c.id % 10, 1 + (c.id + 3) % 10, 1 + (c.id + 6) % 10]::bigint[],
           case when c.id % 50 = 0 then 'failed' else 'sent' end, now() - interval '3 days'
    from customers c`;
  await sql`
    insert into messages (campaign_id, customer_id, status, sent_at)
    select ${other}, c.id, 'sent', now() - interval '3 days' from customers c where c.id <= ${MESSAGES / 10}`;
  // Five events per message: sent, then a mix of opens (some machine), clicks on one of its offers,
  // bounces and conversions with revenue.
  await sql`
    insert into contact_events (customer_id, kind, message_id, campaign_id, offer_id, machine, data, at)
    select m.customer_id, e.kind, m.id, m.campaign_id,
           case when e.kind in ('clicked', 'converted') and m.campaign_id = ${id} then m.offer_ids[1 + (m.id + k) % 3] end,
           (m.id + k) % 9 = 0,
           case when e.kind = 'converted' then jsonb_build_object('revenue', 5 + (m.id * 7 + k) % 200, 'currency', 'EUR') else '{}'::jsonb end,
           m.sent_at + make_interval(mins => k * 37 + (m.id % 600)::int)
    from messages m
    cross join generate_series(1, 5) as k
    cross join lateral (select case
      when k = 1 then 'sent'
      when (m.id * 7 + k * 3) % 13 = 0 then 'bounced'
      when (m.id * 5 + k) % 11 = 0 then 'converted'
      when (m.id + k) % 3 = 0 then 'clicked'
      else 'opened' end as kind) e
    where m.status = 'sent' or m.campaign_id = ${id}`;
  await sql`analyze`;
  return id;
}

// The naive way to the same per-variant numbers: join every event to its message and count distinct.
const naive = (sql: Sql, id: number) => sql`
  select m.variant, count(distinct m.id) as sent,
    count(distinct e.message_id) filter (where e.kind in ('opened', 'clicked') and not e.machine) as opens,
    count(distinct e.message_id) filter (where e.kind = 'clicked' and not e.machine) as clicks,
    count(distinct e.message_id) filter (where e.kind = 'bounced') as bounced,
    count(distinct e.message_id) filter (where e.kind = 'converted') as conversions,
    sum((e.data ->> 'revenue')::numeric) filter (where e.kind = 'converted') as revenue
  from messages m left join contact_events e on e.message_id = m.id
  where m.campaign_id = ${id} and m.status = 'sent'
  group by m.variant`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench: Bench = {
  name: 'reports',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('reports', 4, async (sql) => {
      const id = await seed(sql);
      const [counted] = await sql<{ events: number }[]>`
        select count(*)::int as events from contact_events where campaign_id = ${id}`;
      const events = counted!.events;
      const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
      const app = createApp({ sql, config, logger: pino({ level: 'silent' }), clock: () => new Date() });
      const { key } = await createApiKey(sql, { name: 'bench', role: 'analyst' });
      const report = async () => {
        const res = await app.request(`/v1/reports/campaigns/${id}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        if (res.status !== 200) throw new Error(`report answered ${res.status}`);
        await res.json();
      };
      const raw = () => scopeBreakdown(sql, { campaign_id: id }, false, config.REPORT_CURRENCY);
      await report();
      await raw();
      const reportTimes: number[] = [];
      const rawTimes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        // Alternate which goes first so neither always runs on a cache the other warmed.
        if (i % 2 === 0) rawTimes.push(await time(raw));
        reportTimes.push(await time(report));
        if (i % 2 === 1) rawTimes.push(await time(raw));
      }
      if (process.env.BENCH_VERBOSE)
        process.stderr.write(`report ${reportTimes.join(' ')}\nraw ${rawTimes.join(' ')}\n`);
      const naiveTime = await time(() => naive(sql, id));
      const r = median(reportTimes);
      const b = median(rawTimes);
      return [
        {
          name: 'campaign report over contact events',
          value: 1 / r,
          unit: 'reports/s',
          baseline: 'raw SQL aggregate on postgres.js',
          baseline_value: 1 / b,
          ratio: b / r,
          target: 0.8,
          notes: {
            events,
            messages: MESSAGES,
            report_ms: Math.round(r * 1000),
            raw_sql_ms: Math.round(b * 1000),
            naive_count_distinct_ms: Math.round(naiveTime * 1000),
          },
        },
      ];
    });
  },
};

export default bench;
