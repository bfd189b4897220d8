import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createSql, type Sql } from '../src/db/sql.js';
import { countAudience } from '../src/segments/audience.js';
import type { Bench, BenchResult } from './harness.js';

// Segment count over 1,000,000 customers with 5,000,000 purchases: Offerflow's SQL path
// (rule → ruleToSql → one query) against a hand-written SQL query for the same rule, same
// run, same database. The data is generated once with generate_series into a dedicated
// database (offerflow_bench_segments_<size>) and reused by later runs.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CUSTOMERS = Math.max(1000, Math.round(1_000_000 * SCALE));
const PURCHASES = CUSTOMERS * 5;
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function benchDatabase(): Promise<Sql> {
  const config = loadConfig(process.env as Record<string, string>);
  const name = `offerflow_bench_segments_${CUSTOMERS}`;
  const admin = createSql(config.DATABASE_URL, { max: 1 });
  const url = new URL(config.DATABASE_URL);
  url.pathname = `/${name}`;
  try {
    const exists = await admin`select 1 from pg_database where datname = ${name}`;
    if (exists.length > 0) {
      const sql = createSql(url.toString(), { max: 4 });
      const ready = await sql`select 1 from pg_tables where tablename = 'bench_ready'`.catch(() => []);
      if (ready.length > 0) return sql;
      await sql.end();
      await admin.unsafe(`drop database "${name}" with (force)`);
    }
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const sql = createSql(url.toString(), { max: 4 });
  await migrate(sql);
  process.stderr.write(`segments-sql: generating ${CUSTOMERS} customers, ${PURCHASES} purchases…\n`);
  await sql`select setseed(0.42)`;
  await sql`
    insert into customers (external_id, email, locale, income_band, birth_date, preferred_categories, created_at)
    select 'c' || i, 'c' || i || '@example.com',
      (array['de', 'fr', 'en', 'nl'])[1 + i % 4], (array['low', 'mid', 'high'])[1 + i % 3],
      date '1950-01-01' + ((i::bigint * 7919) % 20000)::int,
      array[(array['garden', 'wine', 'books', 'toys', 'sport', 'kitchen', 'fashion', 'music'])[1 + i % 8]],
      now() - make_interval(days => (i * 31) % 1500)
    from generate_series(1, ${CUSTOMERS}::int) as i`;
  await sql`
    insert into purchases (external_line_id, customer_id, order_ref, sku, category, quantity, amount, purchased_at)
    select 'l' || i, 1 + (i * 7) % ${CUSTOMERS}::int, 'o' || (i / 2), 'sku' || (i % 5000),
      (array['garden', 'wine', 'books', 'toys', 'sport', 'kitchen', 'fashion', 'music'])[1 + floor(random() * 8)::int],
      1, round((1 + random() * 150)::numeric, 2), now() - random() * interval '730 days'
    from generate_series(1, ${PURCHASES}::int) as i`;
  await sql`vacuum analyze customers`.catch(() => {});
  await sql.unsafe('vacuum analyze purchases');
  await sql`create table bench_ready ()`;
  return sql;
}

const bench: Bench = {
  name: 'segments-sql',
  async run(): Promise<BenchResult[]> {
    const sql = await benchDatabase();
    try {
      const now = new Date();
      const rule = {
        and: [
          { '>': [{ var: 'total_spent' }, 400] },
          { '==': [{ var: 'locale' }, 'de'] },
          { purchased_in: ['garden', 90] },
        ],
      };
      const since = new Date(now.getTime() - 90 * 86_400_000);
      const handWritten = async () => {
        const [row] = await sql<{ count: number }[]>`
          select count(*)::int as count
          from customers c
          join (select customer_id, sum(amount) as spent from purchases group by customer_id) t on t.customer_id = c.id
          where c.erased_at is null and c.locale = 'de' and t.spent > 400
            and exists (select 1 from purchases p where p.customer_id = c.id and p.category = 'garden'
              and p.purchased_at >= ${since})`;
        return row?.count ?? 0;
      };
      const ours: number[] = [];
      const theirs: number[] = [];
      let count = -1;
      await handWritten(); // warm the cache for both sides
      for (let r = 0; r < ROUNDS; r++) {
        let started = performance.now();
        const result = await countAudience(sql, rule, { now });
        ours.push((performance.now() - started) / 1000);
        started = performance.now();
        const expected = await handWritten();
        theirs.push((performance.now() - started) / 1000);
        if (result.evaluation !== 'sql') throw new Error('the benchmark rule should run as SQL');
        if (result.count !== expected) throw new Error(`counts differ: ${result.count} vs ${expected}`);
        count = expected;
      }
      const value = median(ours);
      const baseline = median(theirs);
      return [
        {
          name: `segments-sql count (${CUSTOMERS} customers, ${PURCHASES} purchases)`,
          value,
          unit: 's',
          baseline: 'hand-written SQL',
          baseline_value: baseline,
          ratio: baseline / value,
          target: 0.8,
          notes: { matches: count },
        },
      ];
    } finally {
      await sql.end();
    }
  },
};

export default bench;
