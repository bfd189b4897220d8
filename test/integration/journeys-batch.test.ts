import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/sql.js';
import type { JobRequest } from '../../src/deps.js';
import { enqueueSteps, SWEEP_NOW_ABOVE, type SweepJobData, sweepJobId } from '../../src/journeys/jobs.js';
import { createStepRunner, runDueStep, runDueSteps } from '../../src/journeys/runner.js';
import { sweepDueSteps } from '../../src/journeys/sweep.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { insertActiveJourney, waitBranchMailJourney } from '../helpers/journey-fixtures.js';

// The journey runner against real PostgreSQL: due steps claimed and run in batches cost the
// statements of one, and a step still runs once per entry whatever duplicates a batch holds.

let h: Harness;
let shop: ShopFixture;
let counted: Sql;
let statements = 0;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 160, h.deps.config.OFFERFLOW_SECRET);
  counted = createSql(h.db.url, {
    max: 5,
    idleTimeout: 2,
    debug: (_c, q) => {
      statements++;
      if (process.env.SHOW_SQL) console.log(q.replace(/\s+/g, ' ').slice(0, 110));
    },
  });
}, 60_000);
afterAll(async () => {
  await counted?.end();
  await h?.close();
});

let serial = 0;

/** A journey wait → branch → send_email → exit with `customers` already at the wait, due now. */
async function journeyAtWait(customers: readonly number[]) {
  serial += 1;
  const sql = h.db.sql;
  const journey = await insertActiveJourney(
    sql,
    `batch ${serial}`,
    waitBranchMailJourney(`batch_${serial}`, shop.templateId),
  );
  const entries = await sql<{ id: number; seq: number }[]>`
    insert into journey_entries (journey_id, version_id, customer_id, entry_key, step, seq, since, entered_at, next_run_at)
    select ${journey.journeyId}, ${journey.versionId}, c, 'k', 'wait', 1, now() - interval '2 seconds', now() - interval '2 seconds',
      now() - interval '1 second'
    from unnest(${customers as number[]}::bigint[]) c order by c
    returning id, seq`;
  return { journeyId: journey.journeyId, entries };
}

const stepRuns = async (journeyId: number) =>
  h.db.sql<{ entry_id: number; step: string; n: number }[]>`
    select entry_id, step, count(*)::int as n from journey_step_runs where journey_id = ${journeyId}
    group by entry_id, step order by entry_id, step`;

const jobsOf = (entries: readonly { id: number; seq: number }[]) =>
  entries.map((e) => ({ entry_id: e.id, seq: e.seq }));

describe('journey runner batches', () => {
  it('a batch of due steps costs the statements of one', async () => {
    const customers = [...shop.eligible.keys()];
    const one = await journeyAtWait(customers.slice(0, 1));
    const many = await journeyAtWait(customers.slice(1, 41));
    const deps = { ...h.deps, sql: counted, jobs: undefined };
    // A first run reads the control group and the version, which later runs keep.
    await runDueSteps(deps, jobsOf((await journeyAtWait(customers.slice(41, 42))).entries));
    statements = 0;
    expect(await runDueSteps(deps, jobsOf(one.entries))).toEqual([
      { outcome: 'ran', steps: 4, status: 'completed', step: 'end' },
    ]);
    const single = statements;
    statements = 0;
    const results = await runDueSteps(deps, jobsOf(many.entries));
    // Profile (docs/architecture.md): begin, claim, version (first time), context (2), suppression (2),
    // ledger rows, step runs, contact events, entries, commit: the same for 1 entry or 40.
    expect(statements).toBe(single);
    expect(results.every((r) => r.outcome === 'ran' && r.status === 'completed')).toBe(true);
    const runs = await stepRuns(many.journeyId);
    expect(runs).toHaveLength(40 * 4);
    expect(runs.every((r) => r.n === 1)).toBe(true);
    const [mail] = await h.db.sql<{ n: number; entries: number }[]>`
      select count(*)::int as n, count(distinct journey_entry_id)::int as entries from messages
      where journey_id = ${many.journeyId}`;
    expect(mail).toEqual({ n: 40, entries: 40 });
    const [events] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from contact_events where kind = 'journey_step'
        and (data ->> 'journey_id')::bigint = ${many.journeyId}`;
    expect(events!.n).toBe(40 * 4);
  });

  it('duplicates inside a batch and across concurrent batches run each step once', async () => {
    const customers = [...shop.eligible.keys()].slice(42, 72);
    const { journeyId, entries } = await journeyAtWait(customers);
    const jobs = jobsOf(entries);
    const runner = createStepRunner({ ...h.deps, jobs: undefined }, { maxBatch: 7 });
    // Every job three times, in three orders, plus a stale seq for each entry.
    const handed = [...jobs, ...[...jobs].reverse(), ...jobs.map((j) => ({ ...j, seq: 0 })), ...jobs];
    const results = await Promise.all([
      ...handed.map((j) => runner(j)),
      ...jobs.map((j) => runDueStep({ ...h.deps, jobs: undefined }, j)),
    ]);
    expect(results.filter((r) => r.outcome === 'ran')).toHaveLength(entries.length);
    const runs = await stepRuns(journeyId);
    expect(runs).toHaveLength(entries.length * 4);
    expect(runs.every((r) => r.n === 1)).toBe(true);
    const [mail] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from messages where journey_id = ${journeyId}`;
    expect(mail!.n).toBe(entries.length);
  });

  it('an entry another transaction holds is reported locked, and runs once it is let go', async () => {
    const { journeyId, entries } = await journeyAtWait([...shop.eligible.keys()].slice(112, 113));
    const job = jobsOf(entries)[0]!;
    const deps = { ...h.deps, jobs: undefined };
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let locked!: () => void;
    const holding = new Promise<void>((r) => {
      locked = r;
    });
    const holder = h.db.sql.begin(async (tx) => {
      await tx`select id from journey_entries where id = ${job.entry_id} for update`;
      locked();
      await released;
    });
    await holding;
    expect(await runDueStep(deps, job)).toEqual({ outcome: 'skipped', reason: 'locked' });
    release();
    await holder;
    expect(await runDueStep(deps, job)).toMatchObject({ outcome: 'ran', status: 'completed' });
    expect(await runDueStep(deps, job)).toEqual({ outcome: 'skipped', reason: 'not due' });
    expect(await stepRuns(journeyId)).toHaveLength(4);
  });

  it('an entry whose step fails does not hold back the rest of its batch', async () => {
    const customers = [...shop.eligible.keys()].slice(72, 82);
    const { journeyId, entries } = await journeyAtWait(customers);
    // A run already recorded at the bad entry's seq: its insert breaks the batch's transaction.
    const bad = entries[3]!;
    await h.db.sql`
      insert into journey_step_runs (entry_id, seq, journey_id, version_id, step, outcome, at)
      select id, seq, journey_id, version_id, 'wait', 'waited', now() from journey_entries where id = ${bad.id}`;
    const runner = createStepRunner({ ...h.deps, jobs: undefined });
    const results = await Promise.allSettled(jobsOf(entries).map((j) => runner(j)));
    expect(results[3]!.status).toBe('rejected');
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'ran')).toHaveLength(9);
    const [left] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from journey_entries where journey_id = ${journeyId} and status = 'active'`;
    expect(left!.n).toBe(1);
    // Nothing of the failed run stayed: no ledger row, still at its seq.
    const [mail] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from messages where journey_entry_id = ${bad.id}`;
    expect(mail!.n).toBe(0);
    await h.db.sql`update journey_entries set status = 'exited' where id = ${bad.id}`;
  });
});

describe('journey sweeps', () => {
  it('concurrent sweeps run every due entry once, in pages, and leave paused journeys where they are', async () => {
    const customers = [...shop.eligible.keys()].slice(82, 112);
    const live = await journeyAtWait(customers.slice(0, 20));
    const paused = await journeyAtWait(customers.slice(20));
    await h.db.sql`update journeys set status = 'paused' where id = ${paused.journeyId}`;
    // One entry whose step cannot run (its run is already recorded), the oldest due of all.
    const bad = (await journeyAtWait([customers[0]!])).entries[0]!;
    await h.db.sql`
      update journey_entries set next_run_at = now() - interval '1 hour' where id = ${bad.id}`;
    await h.db.sql`
      insert into journey_step_runs (entry_id, seq, journey_id, version_id, step, outcome, at)
      select id, seq, journey_id, version_id, 'wait', 'waited', now() from journey_entries where id = ${bad.id}`;
    const deps = { ...h.deps, jobs: undefined };
    const ran = await Promise.all([
      sweepDueSteps(deps, { pageSize: 3, parallel: 3 }),
      sweepDueSteps(deps, { pageSize: 4, parallel: 2 }),
    ]);
    expect(ran[0]! + ran[1]!).toBe(20);
    const runs = await stepRuns(live.journeyId);
    expect(runs).toHaveLength(20 * 4);
    expect(runs.every((r) => r.n === 1)).toBe(true);
    expect(await stepRuns(paused.journeyId)).toEqual([]);
    // The bad entry was put off, still live at its seq; nothing else is left due.
    const [put] = await h.db.sql<{ later: boolean; seq: number; status: string }[]>`
      select next_run_at > now() as later, seq, status from journey_entries where id = ${bad.id}`;
    expect(put).toEqual({ later: true, seq: bad.seq, status: 'active' });
    expect(await sweepDueSteps(deps)).toBe(0);
  });

  it('hands many steps due now to the next second’s sweep', async () => {
    const handed: JobRequest[] = [];
    const jobs = { enqueue: async (_queue: string, requests: JobRequest[]) => void handed.push(...requests) };
    const now = new Date('2026-12-07T10:00:00.250Z');
    const entries = Array.from({ length: SWEEP_NOW_ABOVE + 1 }, (_, i) => ({
      id: i + 1,
      seq: 1,
      next_run_at: now,
    }));
    await enqueueSteps(jobs as never, entries, now);
    const second = Math.floor(now.getTime() / 1000) + 1;
    expect(handed.map((j) => [j.name, j.opts?.jobId, j.opts?.delay])).toEqual([
      ['sweep', sweepJobId(second), 750],
    ]);
    handed.length = 0;
    await enqueueSteps(jobs as never, entries.slice(1), now);
    expect(handed.map((j) => j.name)).toEqual(Array(SWEEP_NOW_ABOVE).fill('step'));
  });

  it('hands steps due later to one delayed sweep per second, steps due now to their own job', async () => {
    const handed: JobRequest[] = [];
    const jobs = { enqueue: async (_queue: string, requests: JobRequest[]) => void handed.push(...requests) };
    const now = new Date('2026-12-07T10:00:00.250Z');
    const at = (ms: number) => new Date(now.getTime() + ms);
    await enqueueSteps(
      jobs as never,
      [
        { id: 1, seq: 2, next_run_at: at(-5) },
        { id: 2, seq: 1, next_run_at: at(100) },
        { id: 3, seq: 1, next_run_at: at(700) },
        { id: 4, seq: 3, next_run_at: at(760) },
        { id: 5, seq: 1, next_run_at: null },
      ],
      now,
    );
    const second = Math.ceil(at(700).getTime() / 1000);
    expect(handed.map((j) => [j.name, j.opts?.jobId, j.opts?.delay ?? 0])).toEqual([
      ['step', 'j1-2', 0],
      ['sweep', sweepJobId(second), second * 1000 - now.getTime()],
      ['sweep', sweepJobId(second + 1), (second + 1) * 1000 - now.getTime()],
    ]);
    // A sweep never runs before its entries are due.
    for (const j of handed.filter((x) => x.name === 'sweep'))
      expect((j.data as unknown as SweepJobData).second * 1000).toBeGreaterThanOrEqual(at(100).getTime());
  });
});
