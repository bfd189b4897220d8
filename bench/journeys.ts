import { Queue, Worker } from 'bullmq';
import { enqueueSteps } from '../src/journeys/jobs.js';
import { insertActiveJourney, waitBranchMailJourney } from '../test/helpers/journey-fixtures.js';
import type { Bench, BenchResult } from './harness.js';
import { percentiles, startBenchStack } from './stack.js';

// 100,000 customers (× BENCH_SCALE) inside a three-step journey (wait 1 s, branch on spend, send
// to the SMTP sink, then exit), all due at once: due steps per second through the journey queue
// (the wait's sweep job claims the due entries page by page in PostgreSQL, runs their steps,
// writes the ledger rows and the step runs) against bare BullMQ delayed no-op jobs doing the
// same number of steps, with the same concurrency, in the same run. Lateness: when each wait
// ended against when it was due.

const CONCURRENCY = 20;

const bench: Bench = {
  name: 'journeys',
  async run(): Promise<BenchResult[]> {
    const n = Math.max(200, Math.round(100_000 * Number(process.env.BENCH_SCALE ?? 1)));
    const stack = await startBenchStack('jny');
    const { sql, redis, jobs, prefix } = stack;
    try {
      await sql`
        insert into customers (external_id, email, first_name)
        select 'j' || i, 'j' || i || '@example.test', 'J' || i from generate_series(1, ${n}) i`;
      await sql`insert into consents (customer_id, purpose, granted, source)
        select id, 'marketing_email', true, 'bench' from customers`;
      const journey = await insertActiveJourney(
        sql,
        'bench',
        waitBranchMailJourney('bench', stack.templateId),
      );

      // Baseline: the same number of steps as bare delayed no-op jobs (three per customer).
      const baselineQueue = `${prefix}_noop`;
      const queue = new Queue(baselineQueue, { connection: redis, prefix });
      const steps = n * 3;
      let done = 0;
      let baselineEnd = 0;
      let worker: Worker | undefined;
      const finished = new Promise<void>((resolve) => {
        worker = new Worker(
          baselineQueue,
          async () => {
            done += 1;
            if (done === steps) {
              baselineEnd = performance.now();
              resolve();
            }
          },
          { connection: redis.duplicate(), prefix, concurrency: CONCURRENCY },
        );
      });
      const baselineDue = performance.now() + 2000;
      for (let i = 0; i < steps; i += 1000) {
        const count = Math.min(1000, steps - i);
        const delay = Math.max(0, baselineDue - performance.now());
        await queue.addBulk(
          Array.from({ length: count }, (_, k) => ({
            name: 'noop',
            data: { i: i + k },
            opts: { jobId: `n${i + k}`, delay, removeOnComplete: true },
          })),
        );
      }
      await finished;
      await worker?.close();
      const baselineSeconds = (baselineEnd - baselineDue) / 1000;
      await queue.obliterate({ force: true });
      await queue.close();

      // The journey: everyone already at the wait, due 2 s from now (entered_at + 1 s is its due time).
      await stack.startRoles(['journey', 'sender'], {
        JOURNEY_CONCURRENCY: String(CONCURRENCY),
        SEND_CONCURRENCY: '50',
      });
      const dueAt = new Date(Date.now() + 2000);
      const entered = new Date(dueAt.getTime() - 1000);
      const rows = await sql<{ id: number; seq: number; next_run_at: Date }[]>`
        insert into journey_entries (journey_id, version_id, customer_id, entry_key, step, seq, since, entered_at, next_run_at)
        select ${journey.journeyId}, ${journey.versionId}, id, 'bench', 'wait', 1, ${entered}, ${entered}, ${dueAt} from customers
        returning id, seq, next_run_at`;
      await enqueueSteps(jobs, rows, new Date());
      for (;;) {
        const [row] = await sql<{ left: number }[]>`
          select count(*)::int as left from journey_entries where journey_id = ${journey.journeyId} and status = 'active'`;
        if (row!.left === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const journeyEnd = Date.now();
      const journeySeconds = (journeyEnd - dueAt.getTime()) / 1000;
      // Lateness of each wait: when it ran against when it was due (entered + 1 s).
      const late = await sql<{ ms: number }[]>`
        select (extract(epoch from r.at - (e.entered_at + interval '1 second')) * 1000)::float8 as ms
        from journey_step_runs r join journey_entries e on e.id = r.entry_id
        where r.step = 'wait'`;
      const runs = percentiles(late.map((r) => r.ms));
      const [all] = await sql<
        { n: number }[]
      >`select count(*)::int as n from journey_step_runs where step <> 'end'`;
      const mailStart = Date.now();
      for (;;) {
        const [row] = await sql<{ left: number }[]>`
          select count(*)::int as left from messages where journey_id = ${journey.journeyId} and status in ('queued', 'sending')`;
        if (row!.left === 0 || Date.now() - mailStart > 600_000) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const mailSeconds = (Date.now() - dueAt.getTime()) / 1000;
      const stepsPerSecond = all!.n / journeySeconds;
      const baselinePerSecond = steps / baselineSeconds;
      return [
        {
          name: 'journeys due steps per second (wait → branch → send_email)',
          value: stepsPerSecond,
          unit: 'steps/s',
          baseline: 'bare BullMQ delayed no-op jobs, same number of steps and concurrency',
          baseline_value: baselinePerSecond,
          ratio: stepsPerSecond / baselinePerSecond,
          target: 0.3,
          notes: {
            customers: n,
            steps: all!.n,
            wait_lateness_p50_ms: runs.p50,
            wait_lateness_p99_ms: runs.p99,
            all_mail_sent_after_s: Math.round(mailSeconds * 10) / 10,
            concurrency: CONCURRENCY,
          },
        },
      ];
    } finally {
      await stack.close();
    }
  },
};

export default bench;
