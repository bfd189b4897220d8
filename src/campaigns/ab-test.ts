import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { AppError, type FieldError, invalid, notFound } from '../http/problem.js';
import { QUEUES } from '../queue/queues.js';
import { DEFAULT_REPORT_CURRENCY } from '../reports/currency.js';
import { abCellBreakdown } from '../reports/store.js';
import { abTestsInFlight, openAbWindows, recordAbDecision } from './ab-store.js';
import type { AbTest, Variant } from './schema.js';
import { type CampaignRow, findCampaign } from './store.js';
import { effectiveVariants } from './variant.js';
import { type AbDecision, abStateOf, chooseWinner, type VariantOutcome } from './winner.js';

// A/B test with winner send-out. The planner sends the variants to the test cell and holds the
// rest (`held` ledger rows). When the last test message is out, the window opens (the reconciler
// notices; it runs every few seconds in every worker); a delayed `ab-decide` job chooses the
// winner when it ends, and an `ab-send-out` job turns the held rows into the winner's messages.
// The reconciler re-adds either job when Redis lost it; each is idempotent under the campaign's
// row lock or the held status, so running twice, or racing a marketer's send-winner, is harmless.

export interface AbDeps {
  sql: Sql;
  jobs: JobDispatcher;
  clock: () => Date;
}

export interface AbJobData {
  campaign_id: number;
}

export const AB_DECIDE_JOB = 'ab-decide';
export const AB_SEND_OUT_JOB = 'ab-send-out';

/** The job choosing the winner at the window's end: one id per campaign. */
export function abDecideJob(campaignId: number, delayMs: number): JobRequest {
  return {
    name: AB_DECIDE_JOB,
    data: { campaign_id: campaignId } satisfies AbJobData,
    opts: { jobId: `ab-decide-${campaignId}`, ...(delayMs > 0 ? { delay: Math.ceil(delayMs) } : {}) },
  };
}

/** The job sending the winner to the held rows: one id per campaign. */
export function abSendOutJob(campaignId: number): JobRequest {
  return {
    name: AB_SEND_OUT_JOB,
    data: { campaign_id: campaignId } satisfies AbJobData,
    opts: { jobId: `ab-send-out-${campaignId}` },
  };
}

/**
 * What is wrong with a campaign's A/B test against its variants. `touched` says whether the
 * request set ab_test, so the error names the field the marketer changed.
 */
export function abTestErrors(
  w: { variants: readonly Variant[]; ab_test: AbTest | null },
  touched: { ab_test: boolean },
): FieldError[] {
  if (!w.ab_test) return [];
  const live = w.variants.filter((v) => v.weight > 0);
  const errors: FieldError[] = [];
  if (live.length < 2) {
    errors.push({
      path: touched.ab_test ? 'ab_test' : 'variants',
      in: 'body',
      message: 'an A/B test needs at least two variants with a positive weight',
    });
  }
  const fallback = w.ab_test.fallback_variant;
  if (fallback !== undefined && !live.some((v) => v.name === fallback)) {
    errors.push({
      path: 'ab_test.fallback_variant',
      in: 'body',
      message: `no variant named "${fallback}" with a positive weight`,
    });
  }
  return errors;
}

/** Chooses and records the winner from the test cell's human figures; the caller holds the lock. */
async function decide(
  tx: Db,
  row: CampaignRow & { ab_test: AbTest },
  now: Date,
  by: AbDecision['decided_by'],
  chosen?: string,
): Promise<void> {
  const outcomes: VariantOutcome[] = [];
  // Revenue per recipient compares variants of one campaign: any one currency ranks them alike.
  for (const { remainder, variant, ...counts } of await abCellBreakdown(
    tx,
    row.id,
    false,
    DEFAULT_REPORT_CURRENCY,
  )) {
    if (!remainder && variant !== null) outcomes.push({ variant, ...counts });
  }
  const choice = chooseWinner({
    variants: effectiveVariants(row).map((v) => v.name),
    outcomes,
    metric: row.ab_test.metric,
    fallback: row.ab_test.fallback_variant,
    chosen,
  });
  const early = by === 'marketer' && chosen === undefined;
  await recordAbDecision(
    tx,
    row.id,
    { ...choice, decided_by: by, detail: early ? `${choice.detail}; window ended early` : choice.detail },
    now,
  );
}

/**
 * Chooses the winner when the window has ended and the campaign is sending (a paused campaign
 * waits for resume). Returns whether this call decided; false when there was nothing to do.
 */
export async function decideAtWindowEnd(sql: Sql, campaignId: number, now: Date): Promise<boolean> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, campaignId, true);
    if (!row?.ab_test || row.ab_decided_at !== null || row.status !== 'sending') return false;
    if (row.ab_window_ends_at === null || row.ab_window_ends_at.getTime() > now.getTime()) return false;
    await decide(tx, { ...row, ab_test: row.ab_test }, now, 'window');
    return true;
  });
}

/**
 * A marketer ends the window now: the winner is chosen as at the window's end, or `variant` is
 * sent. Only while the test runs (its cell planned, no winner yet, sending or paused): 409
 * otherwise. A paused campaign sends the winner when it resumes.
 */
export async function sendWinnerNow(
  sql: Sql,
  campaignId: number,
  input: { now: Date; variant?: string | undefined },
): Promise<CampaignRow> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, campaignId, true);
    if (!row) throw notFound(`Campaign ${campaignId}`);
    let why: string | null = null;
    if (!row.ab_test) why = `Campaign ${campaignId} has no A/B test`;
    else if (row.ab_decision)
      why = `The winner of campaign ${campaignId} (${row.ab_decision.winner}) was already chosen`;
    else if (row.status !== 'sending' && row.status !== 'paused')
      why = `Campaign ${campaignId} is ${row.status}: its A/B test is not running`;
    else if (row.planned_at === null) why = `The test cell of campaign ${campaignId} is still being planned`;
    if (why !== null || !row.ab_test) {
      throw new AppError(409, 'not-in-test-window', why ?? '', undefined, {
        current_status: row.status,
        ab_phase: abStateOf(row)?.phase ?? null,
      });
    }
    if (input.variant !== undefined && !effectiveVariants(row).some((v) => v.name === input.variant)) {
      throw invalid([
        {
          path: 'variant',
          in: 'body',
          message: `no variant named "${input.variant}" with a positive weight in campaign ${campaignId}`,
        },
      ]);
    }
    await decide(tx, { ...row, ab_test: row.ab_test }, input.now, 'marketer', input.variant);
    return (await findCampaign(tx, campaignId))!;
  });
}

/** Adds the jobs whose id is not live in the queue (all of them where the queue cannot tell). */
async function ensureJobs(jobs: JobDispatcher, queue: string, wanted: JobRequest[]): Promise<number> {
  if (wanted.length === 0) return 0;
  let add = wanted;
  if (jobs.missing) {
    const missing = new Set(
      await jobs.missing(
        queue,
        wanted.map((j) => j.opts!.jobId!),
      ),
    );
    add = wanted.filter((j) => missing.has(j.opts!.jobId!));
  }
  if (add.length > 0) await jobs.enqueue(queue, add);
  return add.length;
}

const jobFor = (c: { id: number; decided: boolean; ab_window_ends_at: Date | null }, now: Date) =>
  c.decided
    ? abSendOutJob(c.id)
    : abDecideJob(c.id, Math.max(0, (c.ab_window_ends_at?.getTime() ?? 0) - now.getTime()));

/**
 * The reconciler's part: opens the window of every test cell fully sent, and makes sure each
 * running test has its job in Redis (the decision, delayed to the window's end; or the send-out
 * while rows are held). Returns how many jobs it handed over.
 */
export async function reconcileAbTests(deps: AbDeps): Promise<number> {
  const now = deps.clock();
  await openAbWindows(deps.sql, now);
  const inFlight = await abTestsInFlight(deps.sql);
  return ensureJobs(
    deps.jobs,
    QUEUES.planner,
    inFlight.map((c) => jobFor(c, now)),
  );
}

/**
 * Hands one campaign's A/B test the job it needs now, if any: after its cell was planned, after
 * a resume, after a decision. Adding a job whose id is live is a no-op.
 */
export async function dispatchAbTest(deps: AbDeps, campaignId: number): Promise<void> {
  const now = deps.clock();
  await openAbWindows(deps.sql, now, campaignId);
  const row = await findCampaign(deps.sql, campaignId);
  if (!row?.ab_test || row.status !== 'sending') return;
  if (row.ab_decided_at === null && row.ab_window_ends_at === null) return;
  await deps.jobs.enqueue(QUEUES.planner, [
    jobFor(
      { id: row.id, decided: row.ab_decided_at !== null, ab_window_ends_at: row.ab_window_ends_at },
      now,
    ),
  ]);
}
