import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Bench, type BenchResult, withApiServer, withScratchDatabase } from './harness.js';

// Batch customer upsert through the real HTTP API (a node server on an ephemeral port, one
// POST /v1/customers/batch of 10,000 rows) against a raw COPY of the same rows into a scratch
// table shaped like customers (same columns, defaults and indexes), in the same run and
// database. Each side runs ROUNDS times on fresh external ids (inserts), interleaved; the best
// round of each counts (the machine is shared, and the best round is the least disturbed).
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(100, Math.round(10_000 * SCALE));
const ROUNDS = 5;
const CATEGORIES = ['garden', 'wine', 'books', 'toys', 'sport', 'kitchen', 'fashion', 'music'];
const CITIES = ['Lyon', 'Berlin', 'Porto', 'Gent', 'Turin'];

function customers(round: number) {
  return Array.from({ length: N }, (_, i) => ({
    external_id: `r${round}-c${i}`,
    email: `c${i}.r${round}@example.com`,
    first_name: `First${i}`,
    last_name: `Last${i}`,
    locale: 'fr-FR',
    timezone: 'Europe/Paris',
    birth_date: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
    address: { line1: `${i} rue du Test`, postal_code: `750${i % 20}`, city: CITIES[i % 5]!, country: 'FR' },
    occupation: 'engineer',
    income_band: ['low', 'mid', 'high'][i % 3]!,
    preferred_categories: [CATEGORIES[i % 8]!, CATEGORIES[(i * 3) % 8]!],
    hobbies: ['hiking'],
    attributes: { loyalty_tier: ['bronze', 'silver', 'gold'][i % 3]! },
  }));
}

const COPY_COLUMNS = [
  'external_id',
  'email',
  'first_name',
  'last_name',
  'locale',
  'timezone',
  'birth_date',
  'address',
  'occupation',
  'income_band',
  'preferred_categories',
  'hobbies',
  'attributes',
] as const;

const csv = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  let text: string;
  if (Array.isArray(value))
    text = `{${value.map((v) => `"${String(v).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return `"${text.replace(/"/g, '""')}"`;
};

const toCsv = (rows: ReturnType<typeof customers>) =>
  rows.map((row) => COPY_COLUMNS.map((c) => csv(row[c])).join(',')).join('\n') + '\n';

const best = (xs: number[]) => Math.min(...xs);

const bench: Bench = {
  name: 'customers-upsert',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('customers', 10, (sql) =>
      withApiServer(sql, async (base, key) => {
        await sql`insert into attributes (key, type) values ('loyalty_tier', 'string')`;
        await sql`create table bench_copy (like customers including defaults including identity including indexes)`;
        const post = async (body: string) => {
          const res = await fetch(`${base}/v1/customers/batch`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body,
          });
          if (res.status !== 201 && res.status !== 200)
            throw new Error(`batch answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
          await res.arrayBuffer();
        };
        await post(JSON.stringify(customers(-1).slice(0, 100)));
        const apiSeconds: number[] = [];
        const copySeconds: number[] = [];
        let updateSeconds = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const rows = customers(round);
          const body = JSON.stringify(rows);
          let started = performance.now();
          await post(body);
          apiSeconds.push((performance.now() - started) / 1000);
          if (round === 0) {
            started = performance.now();
            await post(body);
            updateSeconds = (performance.now() - started) / 1000;
          }
          const text = toCsv(rows);
          started = performance.now();
          const writable =
            await sql`copy bench_copy (${sql(COPY_COLUMNS as unknown as string[])}) from stdin with (format csv)`.writable();
          await pipeline(Readable.from([text]), writable);
          copySeconds.push((performance.now() - started) / 1000);
        }
        const [{ n }] = (await sql`select count(*)::int as n from customers`) as unknown as [{ n: number }];
        if (n !== N * ROUNDS + 100) throw new Error(`expected ${N * ROUNDS + 100} customers, found ${n}`);
        const value = N / best(apiSeconds);
        const baseline = N / best(copySeconds);
        return [
          {
            name: 'customers-upsert',
            value,
            unit: 'customers/s',
            baseline: 'COPY',
            baseline_value: baseline,
            ratio: value / baseline,
            target: 0.3,
            notes: { customers: N, update_rate: Math.round(N / updateSeconds) },
          },
        ];
      }),
    );
  },
};

export default bench;
