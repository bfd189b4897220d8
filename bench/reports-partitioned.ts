import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ensureMonthlyPartitions } from '../src/db/partitions.js';
import type { Sql } from '../src/db/sql.js';
import { incrementalReport } from '../src/holdouts/report.js';
import { createApiKey } from '../src/http/api-keys.js';
import { revenueByCurrency } from '../src/reports/currency.js';
import { recommendedProducts, scopeBreakdown } from '../src/reports/store.js';
import { type Bench, type BenchResult, time, withScratchDatabase } from './harness.js';

// The campaign report over a large, partitioned contact history: BENCH_SCALE=1 is 10,000,000
// contact events in monthly partitions over two years (BENCH_SCALE=0.1 for 1,000,000), of which
// one campaign sent three days ago holds 1 % (its messages, two variants, three offers each, five
// events a message) and 200 older campaigns the rest. GET /v1/reports/campaigns/{id} (auth, the
// one aggregate statement, offer names, rates, z-test, JSON) against the raw aggregate of the
// same rows: the same per-variant and per-offer counts written straight on the month partition
// that holds them. Measured with a tenth of the history, then with all of it, so that the growth
// shows: with partition pruning the report reads the campaign's months only, whatever the rest.
// Rows come from INSERT … SELECT generate_series, a million a statement.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const TOTAL = Math.max(100_000, Math.round(10_000_000 * SCALE));
const MESSAGES = Math.round(TOTAL / 100 / 5);
const CUSTOMERS = Math.max(10_000, MESSAGES);
const HISTORY_CAMPAIGNS = 200;
const RUNS = 5;
const CHUNK = 1_000_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function seedCampaign(sql: Sql): Promise<number> {
  await sql`insert into offers (name, title, category) select 'offer ' || i, 'Offer ' || i, 'c' || (i % 4) from generate_series(1, 10) i`;
  await sql`insert into customers (external_id) select 'r' || i from generate_series(1, ${CUSTOMERS}) i`;
  const [bench] = await sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('bench', 'sent') returning id`;
  const id = bench!.id;
  await sql`
    insert into campaigns (name, status) select 'history ' || i, 'sent' from generate_series(1, ${HISTORY_CAMPAIGNS}) i`;
  await sql`
    insert into messages (campaign_id, customer_id, variant, offer_ids, status, sent_at)
    select ${id}, c.id, case when c.id % 2 = 0 then 'A' else 'B' end,
           array[1 + c.id % 10, 1 + (c.id + 3) % 10, 1 + (c.id + 6) % 10]::bigint[],
           case when c.id % 50 = 0 then 'failed' else 'sent' end, now() - interval '3 days'
    from customers c where c.id <= (select min(id) from customers) + ${MESSAGES} - 1`;
  // Five events per message, as the reports bench: sent, then opens (some machine), clicks on one
  // of its offers, bounces, conversions with revenue, within hours of the send.
  await sql`
    insert into contact_events (customer_id, kind, message_id, campaign_id, offer_id, machine, data, at)
    select m.customer_id, e.kind, m.id, m.campaign_id,
           case when e.kind in ('clicked', 'converted') then m.offer_ids[1 + (m.id + k) % 3] end,
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
    where m.campaign_id = ${id}`;
  return id;
}

/** Adds `count` events of the older campaigns, spread over the two years before the campaign. */
async function seedHistory(sql: Sql, from: number, count: number): Promise<void> {
  const [{ first } = { first: 0 }] = await sql<
    { first: number }[]
  >`select min(id)::int as first from customers`;
  const [{ c0 } = { c0: 0 }] = await sql<{ c0: number }[]>`
    select min(id)::int as c0 from campaigns where name like 'history %'`;
  for (let done = 0; done < count; done += CHUNK) {
    const n = Math.min(CHUNK, count - done);
    const start = from + done;
    await sql`
      insert into contact_events (customer_id, kind, campaign_id, machine, at)
      select ${first} + (i * 7919) % ${CUSTOMERS},
             (array['sent', 'opened', 'opened', 'clicked', 'bounced'])[1 + i % 5],
             ${c0} + i % ${HISTORY_CAMPAIGNS},
             i % 11 = 0,
             now() - interval '33 days' - make_interval(secs => (i * 104729) % (700 * 86400))
      from generate_series(${start}::bigint, ${start + n - 1}::bigint) i`;
    process.stderr.write(`  history ${from + done + n} / ${from + count}\n`);
  }
}

/** The same counts as the report, straight on the partition of the campaign's month. */
function rawAggregate(sql: Sql, id: number, partition: string) {
  return sql`
    with sent as materialized (
      select m.id, m.variant, m.offer_ids from messages m where m.campaign_id = ${id} and m.status = 'sent'
    ), ev as materialized (
      select message_id, offer_id,
        bool_or(kind in ('opened', 'clicked') and not machine) as opened,
        bool_or(kind = 'clicked' and not machine) as clicked,
        bool_or(kind = 'bounced') as bounced,
        bool_or(kind = 'converted') as converted,
        sum((data ->> 'revenue')::numeric) filter (where kind = 'converted') as revenue
      from ${sql(partition)}
      where campaign_id = ${id} and message_id is not null
        and kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded')
      group by message_id, offer_id
    ), msg as (
      select message_id, bool_or(opened) as opened, bool_or(clicked) as clicked, bool_or(bounced) as bounced,
             bool_or(converted) as converted, sum(revenue) as revenue
      from ev group by message_id
    )
    select 'variant' as dim, s.variant as key, count(*)::int as sent,
      count(*) filter (where x.opened)::int as opens, count(*) filter (where x.clicked)::int as clicks,
      count(*) filter (where x.bounced)::int as bounced, count(*) filter (where x.converted)::int as conversions,
      coalesce(sum(x.revenue), 0)::float8 as revenue
    from sent s left join msg x on x.message_id = s.id group by s.variant
    union all
    select 'offer', o.offer_id::text, count(*)::int,
      count(*) filter (where x.opened)::int, count(*) filter (where y.clicked)::int,
      count(*) filter (where x.bounced)::int, count(*) filter (where y.converted)::int,
      coalesce(sum(y.revenue), 0)::float8
    from sent s
    cross join unnest(s.offer_ids) as o(offer_id)
    left join msg x on x.message_id = s.id
    left join ev y on y.message_id = s.id and y.offer_id = o.offer_id
    group by o.offer_id`;
}

/** BENCH_VERBOSE: the time of each statement the report runs, alone, to see where it goes. */
async function explainParts(sql: Sql, id: number, currency: string) {
  const parts: Record<string, () => Promise<unknown>> = {
    breakdown: () => scopeBreakdown(sql, { campaign_id: id }, false, currency),
    revenue_by_currency: () => revenueByCurrency(sql, { campaign_id: id }, currency),
    incremental: () => incrementalReport(sql, { campaign_id: id }, { windowDays: 7, currency }),
    recommendations: () => recommendedProducts(sql, id, false, currency),
  };
  for (const [name, fn] of Object.entries(parts)) {
    await fn();
    const t: number[] = [];
    for (let i = 0; i < 3; i++) t.push(await time(fn));
    process.stderr.write(`  ${name} ${Math.round(median(t) * 1000)} ms\n`);
  }
}

const bench: Bench = {
  name: 'reports-partitioned',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('reports_partitioned', 4, async (sql) => {
      // Monthly partitions from two years back to three months ahead, as the retention worker keeps them.
      const back = new Date();
      back.setUTCMonth(back.getUTCMonth() - 25);
      await ensureMonthlyPartitions(sql, 'contact_events', 28, back);
      const id = await seedCampaign(sql);
      const [where] = await sql<{ partition: string; events: number }[]>`
        select tableoid::regclass::text as partition, count(*)::int as events
        from contact_events where campaign_id = ${id} group by 1 order by 2 desc limit 1`;
      const campaignEvents = where!.events;
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
      const raw = () => rawAggregate(sql, id, where!.partition);

      const results: BenchResult[] = [];
      let seeded = campaignEvents;
      const stages = [Math.round(TOTAL / 10), TOTAL];
      const measured: Array<{ events: number; report: number; raw: number }> = [];
      for (const target of stages) {
        await seedHistory(sql, seeded, target - seeded);
        seeded = target;
        await sql`analyze`;
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
        const r = median(reportTimes);
        const b = median(rawTimes);
        if (process.env.BENCH_VERBOSE) await explainParts(sql, id, config.REPORT_CURRENCY);
        const [{ partitions } = { partitions: 0 }] = await sql<{ partitions: number }[]>`
          select count(*)::int as partitions from pg_inherits i join pg_class p on p.oid = i.inhparent
          where p.relname = 'contact_events'`;
        measured.push({ events: target, report: r, raw: b });
        results.push({
          name: `campaign report over ${(target / 1e6).toLocaleString('en')}M partitioned contact events`,
          value: 1 / r,
          unit: 'reports/s',
          baseline: 'raw aggregate of the same rows on their month partition',
          baseline_value: 1 / b,
          ratio: b / r,
          target: 0.8,
          notes: {
            events: target,
            partitions,
            campaign_events: campaignEvents,
            messages: MESSAGES,
            report_ms: Math.round(r * 1000),
            raw_sql_ms: Math.round(b * 1000),
            ...(measured.length > 1
              ? {
                  report_growth: Math.round((r / measured[0]!.report) * 100) / 100,
                  raw_growth: Math.round((b / measured[0]!.raw) * 100) / 100,
                  events_growth: Math.round(target / measured[0]!.events),
                }
              : {}),
          },
        });
      }
      return results;
    });
  },
};

export default bench;
