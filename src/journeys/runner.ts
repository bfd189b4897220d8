import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { recordContactEvents } from '../customers/events.js';
import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { type ControlGroup, currentControlGroup } from '../holdouts/assign.js';
import { createBatcher } from '../messages/batcher.js';
import { enqueueDelayedSends } from '../messages/send-jobs.js';
import { buildContexts, type CustomerContext } from '../rules/context.js';
import {
  claimDueEntries,
  claimDueNow,
  type EntryRow,
  insertStepRuns,
  type StepRun,
  saveEntries,
  stillDueEntries,
} from './entry-store.js';
import { listenKey } from './events.js';
import { stepMap } from './graph.js';
import { enqueueSteps } from './jobs.js';
import type { Step } from './schema.js';
import { runSendSteps } from './send-step.js';
import { runStep } from './steps.js';
import { type VersionFacts, versionsByIds } from './store.js';
import { waitEndsAt } from './wait.js';

type SendStep = Extract<Step, { type: 'send_email' }>;

export interface JourneyDeps {
  sql: Sql;
  /** Absent on the edge: due steps wait for the reconciler. */
  jobs?: JobDispatcher | undefined;
  clock: () => Date;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'>;
  logger?: Logger | undefined;
}

export type RunResult =
  | { outcome: 'ran'; steps: number; status: EntryRow['status']; step: string | null }
  /** `locked`: another transaction held the entry at that moment (its job should try again). */
  | { outcome: 'skipped'; reason: 'not due' | 'paused' | 'locked' };

/**
 * An activated version never changes (an edit adds a version), so each process keeps the
 * definitions it has read, with their step maps, instead of reading them per due step.
 */
const versions = new Map<number, { version: VersionFacts; steps: Map<string, Step> }>();

async function versionOf(tx: Db, id: number) {
  let known = versions.get(id);
  if (!known) {
    const version = (await versionsByIds(tx, [id])).get(id)!;
    known = { version, steps: stepMap(version.definition) };
    if (version.status !== 'draft') {
      if (versions.size >= 1000) versions.delete(versions.keys().next().value as number);
      versions.set(id, known);
    }
  }
  return known;
}

/**
 * The control group in force, read at most every two seconds per process: it changes when an
 * operator changes the settings, while every due step with a send would read it.
 */
let groupCache: { at: number; group: Promise<Awaited<ReturnType<typeof currentControlGroup>>> } | undefined;

function controlGroupOf(sql: Sql, now: Date) {
  if (!groupCache || Math.abs(now.getTime() - groupCache.at) > 2000) {
    const group = currentControlGroup(sql, now);
    groupCache = { at: now.getTime(), group };
    group.catch(() => {
      groupCache = undefined;
    });
  }
  return groupCache.group;
}

/** More steps than any valid journey runs at once (every cycle waits): a guard, not a rule. */
const MAX_STEPS_PER_RUN = 500;

type Claimed = EntryRow & { journey_status: string };

/** One claimed entry on its way through the batch, held in memory until the batch writes. */
interface Advance {
  entry: Claimed;
  version: VersionFacts;
  steps: Map<string, Step>;
  current: string;
  seq: number;
  /** A new entry (seq 0) arrives at its start step: a wait there starts waiting. */
  arrived: boolean;
  status: EntryRow['status'];
  nextRunAt: Date | null;
  waitingFor: string | null;
  runs: StepRun[];
  queued: { id: number; send_at: Date }[];
  /** The customer's context, read when a step needs it, read again after an attribute changed. */
  context: CustomerContext | undefined | null;
  done: boolean;
}

/**
 * Runs the due steps of many entries in one transaction that first claims them all (locked,
 * live at their job's seq, due; rows held elsewhere skipped): a duplicate job, a retry after a
 * crash or a job re-created by the reconciler finds its entry moved on and does nothing, so a
 * step never runs twice for one entry. Each entry then goes through every step up to its next
 * wait or its exit in memory, round by round: the contexts the round's branches need are read
 * together, its send_email steps go through one recipients step and one ledger statement, and
 * at the end the step runs (journey_step_runs, unique per entry and seq), their `journey_step`
 * contact events and the entries' new places are written in one statement each. After the
 * commit the send jobs and the next due steps go to Redis in one call each. A paused journey's
 * entry is left where it is (resume hands it back). Results are in the order of `jobs`.
 */
export async function runDueSteps(
  deps: JourneyDeps,
  jobs: readonly { entry_id: number; seq: number }[],
): Promise<RunResult[]> {
  return runBatch(deps, async (tx, now) => {
    const results: (RunResult | Advance)[] = [];
    const claimed = new Map((await claimDueEntries(tx, jobs, now)).map((e) => [e.id, e]));
    const unclaimed: { entry_id: number; seq: number; at: number }[] = [];
    const taken = new Set<string>();
    for (const [at, job] of jobs.entries()) {
      const entry = claimed.get(job.entry_id);
      if (!entry || entry.seq !== job.seq) {
        unclaimed.push({ ...job, at });
        results.push({ outcome: 'skipped', reason: 'not due' });
        continue;
      }
      // Two jobs of one step run in the batch (a wake and its timeout, a duplicate): the first runs it.
      claimed.delete(job.entry_id);
      taken.add(`${job.entry_id}:${job.seq}`);
      results.push(
        entry.journey_status !== 'active'
          ? { outcome: 'skipped', reason: 'paused' }
          : startAdvance(entry, await versionOf(tx, entry.version_id)),
      );
    }
    // Skipped because another transaction holds the entry right now: its job should come back.
    const others = unclaimed.filter((u) => !taken.has(`${u.entry_id}:${u.seq}`));
    if (others.length > 0) {
      const held = await stillDueEntries(tx, others, now);
      for (const u of others)
        if (held.has(u.entry_id)) results[u.at] = { outcome: 'skipped', reason: 'locked' };
    }
    return results;
  });
}

/**
 * Runs a page of whatever is due now, oldest due first, across active journeys: the entries
 * are claimed by their due time (SKIP LOCKED, so concurrent pages take different entries)
 * instead of by job, then run as runDueSteps runs them. Returns how many entries it ran.
 */
export async function runDuePage(deps: JourneyDeps, limit: number): Promise<number> {
  const results = await runBatch(deps, async (tx, now) => {
    const claimed = await claimDueNow(tx, now, limit);
    const advances: Advance[] = [];
    for (const entry of claimed) advances.push(startAdvance(entry, await versionOf(tx, entry.version_id)));
    return advances;
  });
  return results.length;
}

/**
 * One batch: `claim` locks its entries in the transaction, then they run (see runDueSteps);
 * results in the order `claim` gave them.
 */
async function runBatch(
  deps: JourneyDeps,
  claim: (tx: Db, now: Date) => Promise<(RunResult | Advance)[]>,
): Promise<RunResult[]> {
  const now = deps.clock();
  // Before the transaction: inside it, a second connection per batch could starve the pool.
  const controlGroup = await controlGroupOf(deps.sql, now);
  const outcome = await deps.sql.begin(async (tx) => {
    const results = await claim(tx, now);
    const advances = results.filter((r): r is Advance => 'entry' in r);
    await advanceAll(tx, deps, advances, { now, controlGroup });
    const runs = advances.flatMap((a) => a.runs);
    await insertStepRuns(tx, runs);
    await recordContactEvents(
      tx,
      advances.flatMap((a) =>
        a.runs.map((r) => ({
          customer_id: a.entry.customer_id,
          kind: 'journey_step',
          message_id: r.message_id,
          at: now,
          data: {
            journey_id: a.entry.journey_id,
            version: a.version.version,
            entry_id: a.entry.id,
            step: r.step,
            type: a.steps.get(r.step)!.type,
            outcome: r.outcome,
          },
        })),
      ),
    );
    await saveEntries(
      tx,
      advances.map((a) => {
        // An arrival with no run still moves the entry on: the next job never reuses this one's id.
        if (a.seq === a.entry.seq) a.seq += 1;
        return {
          id: a.entry.id,
          step: a.current,
          status: a.status,
          exit_reason: a.status === 'completed' ? 'exit' : null,
          next_run_at: a.status === 'active' ? a.nextRunAt : null,
          seq: a.seq,
          waiting_for: a.waitingFor,
          since: now,
        };
      }),
    );
    return results;
  });
  // After the commit: a crash here loses only jobs, which the reconciler re-creates from the rows.
  const advances = outcome.filter((r): r is Advance => 'entry' in r);
  if (deps.jobs) {
    await enqueueDelayedSends(
      deps.sql,
      deps.jobs,
      advances.flatMap((a) => a.queued),
      now,
    );
    await enqueueSteps(
      deps.jobs,
      advances
        .filter((a) => a.status === 'active' && a.nextRunAt)
        .map((a) => ({ id: a.entry.id, seq: a.seq, next_run_at: a.nextRunAt })),
      now,
    );
  }
  return outcome.map((r) =>
    'entry' in r ? { outcome: 'ran', steps: r.runs.length, status: r.status, step: r.current } : r,
  );
}

/** Runs one entry's due step (and on to its next wait): runDueSteps for a batch of one. */
export async function runDueStep(
  deps: JourneyDeps,
  job: { entry_id: number; seq: number },
): Promise<RunResult> {
  return (await runDueSteps(deps, [job]))[0]!;
}

/**
 * The journey worker's runner: concurrent jobs of one process share one transaction (a group
 * commit, as the sender's statements do), so the round trips of a due step are paid once per
 * batch instead of once per entry. A batch that fails is run again one job at a time, so one
 * entry whose step fails (and is retried by its job) never fails the others.
 */
export function createStepRunner(deps: JourneyDeps, options: { maxBatch?: number } = {}) {
  const batch = createBatcher(
    async (jobs: { entry_id: number; seq: number }[]): Promise<(RunResult | { error: unknown })[]> => {
      try {
        return await runDueSteps(deps, jobs);
      } catch (error) {
        if (jobs.length === 1) return [{ error }];
        deps.logger?.warn({ err: error, jobs: jobs.length }, 'journey batch failed, running its jobs alone');
        return Promise.all(
          jobs.map((job) =>
            runDueStep(deps, job).catch((e: unknown) => ({ error: e }) as { error: unknown }),
          ),
        );
      }
    },
    { maxSize: options.maxBatch ?? 200 },
  );
  return async (job: { entry_id: number; seq: number }): Promise<RunResult> => {
    const result = await batch(job);
    if ('error' in result) throw result.error;
    return result;
  };
}

function startAdvance(entry: Claimed, known: { version: VersionFacts; steps: Map<string, Step> }): Advance {
  return {
    entry,
    version: known.version,
    steps: known.steps,
    current: entry.step!,
    seq: entry.seq,
    arrived: entry.seq === 0,
    status: 'active',
    nextRunAt: null,
    waitingFor: null,
    runs: [],
    queued: [],
    context: undefined,
    done: false,
  };
}

/** Whether a step reads the customer's context when an entry is at it. */
const needsContext = (step: Step, arrived: boolean) =>
  step.type === 'branch' || (step.type === 'wait' && arrived && step.until !== undefined);

/** Moves every entry on, one step per round, until each waits or ends. */
async function advanceAll(
  tx: Db,
  deps: JourneyDeps,
  advances: Advance[],
  input: { now: Date; controlGroup: ControlGroup | null },
): Promise<void> {
  const { now } = input;
  for (let round = 0; round < MAX_STEPS_PER_RUN; round++) {
    const pending = advances.filter((a) => !a.done);
    if (pending.length === 0) return;
    const unread = pending.filter(
      (a) => a.context === undefined && needsContext(a.steps.get(a.current)!, a.arrived),
    );
    if (unread.length > 0) {
      const contexts = await buildContexts(
        tx,
        unread.map((a) => a.entry.customer_id),
        now,
      );
      for (const a of unread) a.context = contexts.get(a.entry.customer_id) ?? null;
    }
    const sending = pending.filter((a) => a.steps.get(a.current)!.type === 'send_email');
    const messages = await runSendSteps(
      { sql: tx, config: deps.config },
      sending.map((a) => ({ entry: a.entry, step: a.steps.get(a.current) as SendStep })),
      input,
    );
    const sent = new Map(sending.map((a, i) => [a, messages[i]!]));
    for (const a of pending) {
      const step = a.steps.get(a.current)!;
      if (step.type === 'wait' && a.arrived) {
        a.nextRunAt = waitEndsAt(now, step, a.context?.timezone);
        a.done = true;
        continue;
      }
      if (step.type === 'wait_for_event' && a.arrived) {
        a.nextRunAt = new Date(now.getTime() + step.timeout_seconds * 1000);
        a.waitingFor = listenKey(step.event);
        a.done = true;
        continue;
      }
      const message = sent.get(a);
      const run = message
        ? { outcome: message.status, next: (step as SendStep).next, message }
        : await runStep(tx, deps, { entry: a.entry, step, now, seq: a.seq, context: a.context ?? null });
      // An attribute changed: a later branch of this run reads the customer again.
      if (step.type === 'update_attribute') a.context = undefined;
      a.runs.push({
        entry_id: a.entry.id,
        seq: a.seq,
        journey_id: a.entry.journey_id,
        version_id: a.entry.version_id,
        step: step.id,
        outcome: run.outcome,
        message_id: run.message?.id ?? null,
        at: now,
      });
      if (run.message?.status === 'queued') a.queued.push(run.message);
      a.seq += 1;
      if (run.next === null) {
        a.status = 'completed';
        a.done = true;
      } else {
        a.current = run.next;
        a.arrived = true;
      }
    }
  }
  // The guard: whoever is still moving stays where it is, due again at once.
  for (const a of advances.filter((x) => !x.done)) a.nextRunAt = now;
}
