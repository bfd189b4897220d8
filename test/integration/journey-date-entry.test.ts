import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { scanDateEntries } from '../../src/journeys/date-entry.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// Entry by a date attribute through HTTP and the real journey worker (its repeatable date scan),
// with the clock injected into the app and the worker: a renewal reminder a week before the date
// at 09:00 in each customer's timezone, a yearly anniversary (29 February on the 28th in other
// years), never twice for one occurrence however often the scan runs, and never an erased or
// unsubscribed customer.

let h: Harness;
let workers: RunningWorkers | undefined;
/** The clock of the app and of the worker: real time unless a test sets it. */
let fixed: Date | null = null;
const clock = () => fixed ?? new Date();
let serial = 0;

beforeAll(async () => {
  h = await createHarness({ clock });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url },
    roles: ['journey'],
    env: { QUEUE_PREFIX: h.queuePrefix, JOURNEY_DATE_SCAN_MS: '200', WORKER_LOCK_MS: '5000' },
    logger: h.deps.logger,
    clock,
  });
  for (const [key, type] of [
    ['renewal_on', 'date'],
    ['member_since', 'date'],
    ['plan', 'string'],
  ])
    expect((await h.post('/v1/attributes', { key, type })).status).toBe(201);
});
afterAll(async () => {
  await workers?.close();
  await h?.close();
});

async function customer(fields: Record<string, unknown>): Promise<number> {
  serial += 1;
  const res = await h.post('/v1/customers', {
    external_id: `date-${serial}`,
    email: `date-${serial}@example.test`,
    consents: { marketing_email: true },
    ...fields,
  });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  return (await json(res)).id;
}

async function activeJourney(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/journeys', body);
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  const id = (await json(res)).id;
  expect((await h.post(`/v1/journeys/${id}/activate`)).status).toBe(200);
  return id;
}

const entriesOf = async (journeyId: number, customerId: number) =>
  h.db.sql<{ entry_key: string; status: string }[]>`
    select entry_key, status from journey_entries
    where journey_id = ${journeyId} and customer_id = ${customerId} order by id`;

const scanNow = () => scanDateEntries({ sql: h.db.sql, jobs: h.deps.jobs, clock, config: h.deps.config });

describe('journey entry by a date attribute', () => {
  it('refuses an attribute that is not a declared date, naming the field', async () => {
    for (const attribute of ['nope', 'plan']) {
      const res = await h.post('/v1/journeys', {
        name: 'Bad date entry',
        entry: { date_attribute: attribute },
        start: 'end',
        steps: [{ id: 'end', type: 'exit' }],
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = await json(res);
      expect(problem.errors.map((e: { path: string }) => e.path)).toContain('entry.date_attribute');
    }
    const bad = await h.post('/v1/journeys', {
      name: 'Bad hour',
      entry: { date_attribute: 'renewal_on', at_local_hour: 24 },
      start: 'end',
      steps: [{ id: 'end', type: 'exit' }],
    });
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await json(bad))).toContain('entry');
  });

  it('enters a week before the date from 09:00 local time, once per occurrence, never the erased or unsubscribed', async () => {
    const id = await activeJourney({
      name: 'Renewal reminder',
      entry: { date_attribute: 'renewal_on', offset_days: -7, at_local_hour: 9 },
      start: 'end',
      steps: [{ id: 'end', type: 'exit' }],
    });
    const paris = await customer({ timezone: 'Europe/Paris', attributes: { renewal_on: '2027-01-17' } });
    const newYork = await customer({
      timezone: 'America/New_York',
      attributes: { renewal_on: '2027-01-17' },
    });
    const unsubscribed = await customer({
      timezone: 'Europe/Paris',
      attributes: { renewal_on: '2027-01-17' },
      consents: { marketing_email: false },
    });
    const erased = await customer({ timezone: 'Europe/Paris', attributes: { renewal_on: '2027-01-17' } });
    expect((await h.delete(`/v1/customers/${erased}`)).status).toBeLessThan(300);
    const otherDay = await customer({ timezone: 'Europe/Paris', attributes: { renewal_on: '2027-01-18' } });

    // 08:30 in Paris: the day has come but not the hour.
    fixed = new Date('2027-01-10T07:30:00Z');
    expect((await scanNow()).entered).toBe(0);

    // 09:30 in Paris, 03:30 in New York: the worker's scan enters the Paris customer only.
    fixed = new Date('2027-01-10T08:30:00Z');
    await until(async () => (await entriesOf(id, paris)).length === 1);
    const [entry] = await entriesOf(id, paris);
    expect(entry!.entry_key).toBe('date:renewal_on:2027-01-17');
    expect((await scanNow()).entered).toBe(0);
    const journeys = await json(await h.get(`/v1/customers/${paris}/journeys`));
    expect(JSON.stringify(journeys)).toContain('Renewal reminder');

    // 10:00 in New York the same day: now them.
    fixed = new Date('2027-01-10T15:00:00Z');
    await until(async () => (await entriesOf(id, newYork)).length === 1);
    expect((await scanNow()).entered).toBe(0);
    expect(await entriesOf(id, paris)).toHaveLength(1);
    for (const left of [unsubscribed, erased, otherDay]) expect(await entriesOf(id, left)).toHaveLength(0);

    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report.entered).toBe(2);
  });

  it('yearly: enters on the anniversary each year, 29 February on the 28th in other years', async () => {
    const id = await activeJourney({
      name: 'Membership anniversary',
      entry: { date_attribute: 'member_since', yearly: true },
      re_entry: 'after_exit',
      start: 'end',
      steps: [{ id: 'end', type: 'exit' }],
    });
    const leap = await customer({ attributes: { member_since: '2020-02-29' } });
    const march = await customer({ attributes: { member_since: '2019-03-01' } });

    fixed = new Date('2027-02-28T12:00:00Z');
    await until(async () => (await entriesOf(id, leap)).length === 1);
    expect((await scanNow()).entered).toBe(0);
    expect(await entriesOf(id, march)).toHaveLength(0);

    fixed = new Date('2027-03-01T12:00:00Z');
    await until(async () => (await entriesOf(id, march)).length === 1);

    // 2028 is a leap year: the 28th is not the anniversary, the 29th is.
    fixed = new Date('2028-02-28T12:00:00Z');
    expect((await scanNow()).entered).toBe(0);
    fixed = new Date('2028-02-29T12:00:00Z');
    await until(async () => (await entriesOf(id, leap)).length === 2);
    expect((await scanNow()).entered).toBe(0);
    expect((await entriesOf(id, leap)).map((e) => e.entry_key)).toEqual([
      'date:member_since:2027-02-28',
      'date:member_since:2028-02-29',
    ]);
    fixed = null;
  });
});
