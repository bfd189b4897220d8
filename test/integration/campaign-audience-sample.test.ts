import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forecastAudience } from '../../src/campaigns/audience-forecast.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// The launch forecast past its read limit: a random sample of the live customers, not the first
// by id, the same one on every read, scaled to the live customers (counted, or estimated from the
// sample's hashes when that says there are many), whether the rule runs in SQL or in process.

let h: Harness;
const BUYERS = 600;
const OTHERS = 200;
let buyers: number;
let inProcess: number;

beforeAll(async () => {
  h = await createHarness();
  const sql = h.db.sql;
  // Ids 1..800: every fourth customer bought nothing; the first 300 buyers by id gave no consent.
  await sql`
    insert into customers (external_id, email, locale)
    select 's' || i, 'sample' || i || '@example.org', 'en-GB' from generate_series(1, ${BUYERS + OTHERS}) i`;
  await sql`
    insert into purchases (external_line_id, customer_id, amount, purchased_at)
    select 'l' || id, id, 25, now() - interval '3 days' from customers where id % 4 <> 0`;
  await sql`
    insert into consents (customer_id, purpose, granted, source)
    select customer_id, 'marketing_email', true, 'test' from (
      select customer_id, row_number() over (order by customer_id) as n from purchases) p
    where n > 300`;
  // An erased customer is in neither the sample nor the count.
  await sql`insert into customers (external_id, erased_at) values ('gone', now())`;
  buyers = await segmentId('buyers', { '>': [{ var: 'orders_count' }, 0] });
  // The same audience, with a string ordering that has no SQL translation: evaluated in process.
  inProcess = await segmentId('buyers, in process', {
    and: [{ '>': [{ var: 'orders_count' }, 0] }, { '<': [{ var: 'locale' }, 'zz'] }],
  });
});
afterAll(async () => {
  await h?.close();
});

async function segmentId(name: string, rule: object): Promise<number> {
  const [row] = await h.db.sql<{ id: number }[]>`
    insert into segments (name, rule) values (${name}, ${h.db.sql.json(rule as never)}) returning id`;
  return row!.id;
}

const forecast = (segment_id: number, options: { scanLimit: number; liveCountCap?: number }) =>
  forecastAudience(h.deps, { id: 1, segment_id, holdout_percent: 0 }, { now: new Date(), ...options });
const count = (f: { suppressed: Array<{ reason: string; count: number }> }, reason: string) =>
  f.suppressed.find((s) => s.reason === reason)?.count ?? 0;

describe('the sampled forecast', () => {
  it('reads a random sample, not the first customers by id, and scales it to the live customers', async () => {
    const f = (await forecast(buyers, { scanLimit: 200 }))!;
    expect(f.estimated).toBe(true);
    expect(f.scanned).toBeLessThanOrEqual(200);
    expect(f.scanned).toBeLessThan(f.audience);
    // 200 of 800 live customers: about 150 buyers read, each standing for four. The bounds are
    // over four standard deviations of the sample wide.
    expect(Math.abs(f.audience - BUYERS)).toBeLessThan(100);
    // The first 200 by id would all be buyers without consent; the sample sees both halves.
    const noConsent = count(f, 'no_consent');
    expect(Math.abs(noConsent - 300)).toBeLessThan(110);
    expect(Math.abs(f.mailable - 300)).toBeLessThan(110);
    expect(f.mailable + noConsent).toBe(f.audience);
  });

  it('is the same on every read while the customers stay the same', async () => {
    const first = await forecast(buyers, { scanLimit: 200 });
    expect(await forecast(buyers, { scanLimit: 200 })).toEqual(first);
  });

  it('gives the same answer when the rule runs in process', async () => {
    expect(await forecast(inProcess, { scanLimit: 200 })).toEqual(await forecast(buyers, { scanLimit: 200 }));
  });

  it('estimates the live customers from the sample when there are more than it counts', async () => {
    const counted = (await forecast(buyers, { scanLimit: 200 }))!;
    const estimated = (await forecast(buyers, { scanLimit: 200, liveCountCap: 100 }))!;
    expect(estimated.estimated).toBe(true);
    expect(estimated.scanned).toBe(counted.scanned);
    // 800 live customers from the 200 smallest hashes: a relative error of about 7 %.
    expect(Math.abs(estimated.audience - BUYERS)).toBeLessThan(250);
    // The share of the sample in each count is the counted forecast's: only the scale differs.
    const scale = estimated.audience / counted.audience;
    expect(
      Math.abs(count(estimated, 'no_consent') - count(counted, 'no_consent') * scale),
    ).toBeLessThanOrEqual(1);
  });

  it('reads everyone, exactly, when the live customers fit in the read', async () => {
    const f = await forecast(buyers, { scanLimit: BUYERS + OTHERS });
    expect(f).toMatchObject({ audience: BUYERS, scanned: BUYERS, estimated: false, mailable: 300 });
    expect(count(f!, 'no_consent')).toBe(300);
  });
});
