import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { recordContactEvents } from '../customers/events.js';
import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { currentControlGroup } from '../holdouts/assign.js';
import { decideRecipients } from '../messages/recipients.js';
import { enqueueDelayedSends } from '../messages/send-jobs.js';
import { learnedStatsCache, learningFor } from '../offers/learning.js';
import { buildContext, type CustomerContext } from '../rules/context.js';
import { branchOutcome, splitOutcome } from './decide.js';
import {
  claimDueEntry,
  type EntryRow,
  insertJourneyMessage,
  insertJourneyWebhook,
  insertStepRuns,
  type StepRun,
  saveEntry,
  setCustomerAttribute,
} from './entry-store.js';
import { listenKey } from './events.js';
import { stepMap } from './graph.js';
import { enqueueSteps } from './jobs.js';
import type { Step } from './schema.js';
import { type VersionFacts, versionsByIds } from './store.js';
import { waitEndsAt } from './wait.js';

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
  | { outcome: 'skipped'; reason: 'not due' | 'paused' };

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

/** What the learning ranker knows, for send_email steps that rank with it (re-read when it changes). */
const learnedStats = learnedStatsCache();

/** More steps than any valid journey runs at once (every cycle waits): a guard, not a rule. */
const MAX_STEPS_PER_RUN = 500;

/**
 * Runs an entry's due step and every step after it up to the next wait or the exit, in one
 * transaction that first claims the entry at `seq` (locked, live, due): a duplicate job, a retry
 * after a crash or a job re-created by the reconciler finds the entry moved on and does nothing,
 * so a step never runs twice for one entry. Each run is a row of journey_step_runs (unique per
 * entry and seq) and a `journey_step` event on the contact history; a send_email step writes
 * its ledger row here, and its send job goes out after the commit like a trigger's. A paused
 * journey's entry is left where it is (resume hands it back).
 */
export async function runDueStep(
  deps: JourneyDeps,
  job: { entry_id: number; seq: number },
): Promise<RunResult> {
  const now = deps.clock();
  // Before the transaction: inside it, a second connection per job could starve the pool while
  // duplicates of this job hold the others waiting for the entry's lock.
  const controlGroup = await controlGroupOf(deps.sql, now);
  const group = async () => controlGroup;
  const outcome = await deps.sql.begin(async (tx) => {
    const entry = await claimDueEntry(tx, job.entry_id, job.seq, now);
    if (!entry)
      return { result: { outcome: 'skipped', reason: 'not due' } as RunResult, queued: [], next: null };
    if (entry.journey_status !== 'active')
      return { result: { outcome: 'skipped', reason: 'paused' } as RunResult, queued: [], next: null };
    const { version, steps } = await versionOf(tx, entry.version_id);
    let context: CustomerContext | undefined;
    const customer = async () => {
      context ??= await buildContext(tx, entry.customer_id, now);
      return context;
    };
    const runs: StepRun[] = [];
    const queued: { id: number; send_at: Date | null }[] = [];
    let current = entry.step!;
    let seq = entry.seq;
    // A new entry (seq 0) arrives at its start step: a wait there starts waiting.
    let arrived = entry.seq === 0;
    let status: EntryRow['status'] = 'active';
    let nextRunAt: Date | null = null;
    let waitingFor: string | null = null;
    for (let n = 0; n < MAX_STEPS_PER_RUN; n++) {
      const step = steps.get(current)!;
      if (step.type === 'wait' && arrived) {
        nextRunAt = waitEndsAt(now, step, (await customer())?.timezone);
        break;
      }
      if (step.type === 'wait_for_event' && arrived) {
        nextRunAt = new Date(now.getTime() + step.timeout_seconds * 1000);
        waitingFor = listenKey(step.event);
        break;
      }
      const run = await runStep(tx, deps, { entry, version, step, now, customer, controlGroup: group, seq });
      runs.push({
        entry_id: entry.id,
        seq,
        journey_id: entry.journey_id,
        version_id: entry.version_id,
        step: step.id,
        outcome: run.outcome,
        message_id: run.message?.id ?? null,
        at: now,
      });
      if (run.message?.status === 'queued') queued.push(run.message);
      seq += 1;
      if (run.next === null) {
        status = 'completed';
        break;
      }
      current = run.next;
      arrived = true;
    }
    // An arrival with no run still moves the entry on: the next job never reuses this one's id.
    if (seq === entry.seq) seq += 1;
    await insertStepRuns(tx, runs);
    await recordContactEvents(
      tx,
      runs.map((r) => ({
        customer_id: entry.customer_id,
        kind: 'journey_step',
        message_id: r.message_id,
        at: now,
        data: {
          journey_id: entry.journey_id,
          version: version.version,
          entry_id: entry.id,
          step: r.step,
          type: steps.get(r.step)!.type,
          outcome: r.outcome,
        },
      })),
    );
    await saveEntry(tx, {
      id: entry.id,
      step: current,
      status,
      exit_reason: status === 'completed' ? 'exit' : null,
      next_run_at: status === 'active' ? nextRunAt : null,
      seq,
      waiting_for: waitingFor,
      since: now,
    });
    return {
      result: { outcome: 'ran', steps: runs.length, status, step: current } as RunResult,
      queued,
      next: status === 'active' && nextRunAt ? { id: entry.id, seq, next_run_at: nextRunAt } : null,
    };
  });
  // After the commit: a crash here loses only jobs, which the reconciler re-creates from the rows.
  if (deps.jobs) {
    await enqueueDelayedSends(deps.sql, deps.jobs, outcome.queued, now);
    if (outcome.next) await enqueueSteps(deps.jobs, [outcome.next], now);
  }
  return outcome.result;
}

interface StepInput {
  entry: EntryRow;
  version: { version_id: number; journey_id: number };
  step: Step;
  now: Date;
  seq: number;
  customer: () => Promise<CustomerContext | undefined>;
  controlGroup: () => Promise<Awaited<ReturnType<typeof currentControlGroup>>>;
}

/** Runs one step that does not hold the customer; `next` null when the journey ends here. */
async function runStep(
  tx: Db,
  deps: JourneyDeps,
  input: StepInput,
): Promise<{
  outcome: string;
  next: string | null;
  message?: { id: number; status: string; send_at: Date };
}> {
  const { entry, step, now } = input;
  switch (step.type) {
    case 'wait':
      return { outcome: 'waited', next: step.next };
    case 'wait_for_event':
      // Woken by its event (waiting_for cleared), or its timeout came.
      return entry.waiting_for === null
        ? { outcome: 'on_event', next: step.on_event }
        : { outcome: 'on_timeout', next: step.on_timeout };
    case 'branch': {
      const decision = branchOutcome(step, {
        customer: (await input.customer()) ?? null,
        event: entry.event,
      });
      if (decision.error)
        deps.logger?.warn(
          { entry: entry.id, step: step.id, err: decision.error },
          'journey branch rule failed',
        );
      return decision;
    }
    case 'split':
      return splitOutcome(step, entry.journey_id, entry.customer_id);
    case 'send_email': {
      // The step's ranker, as a campaign's; draws seeded by the entry, so each entry draws anew.
      const learning = await learningFor(tx, step.ranker, {
        offersPerEmail: step.offers_per_email ?? 0,
        seedKey: `journey:${entry.journey_id}:${entry.id}:${step.id}`,
        stats: learnedStats,
      });
      // The one recipients step: suppression, consent, the control group, offers.
      const [decided] = await decideRecipients(
        { sql: tx, config: deps.config },
        [{ customer_id: entry.customer_id }],
        {
          now,
          placements: () => step.offers_per_email ?? 0,
          missingReason: 'erased',
          holdout: {
            controlGroup: await input.controlGroup(),
            promotional: () => true,
            own: () => ({ key: `journey:${entry.journey_id}`, percent: 0 }),
          },
          ...(learning ? { learning } : {}),
        },
      );
      const message = await insertJourneyMessage(tx, {
        customer_id: entry.customer_id,
        template_id: step.template_id,
        template_version: step.template_version ?? null,
        offer_ids: decided?.offer_ids ?? [],
        held_out_offer_ids: decided?.held_out_offer_ids ?? [],
        ranker_cell: decided?.ranker_cell ?? null,
        status: decided?.status ?? 'suppressed',
        suppressed_reason: decided?.suppressed_reason ?? 'erased',
        send_at: now,
        journey_id: entry.journey_id,
        journey_version_id: entry.version_id,
        journey_entry_id: entry.id,
        journey_step: step.id,
      });
      return { outcome: message.status, next: step.next, message };
    }
    case 'update_attribute':
      await setCustomerAttribute(tx, entry.customer_id, step.key, step.value);
      return { outcome: 'updated', next: step.next };
    case 'webhook': {
      // The journey never waits for the receiver: the delivery is retried (and finally failed,
      // its endpoint disabled) by the webhook worker while the customer moves on.
      const written = await insertJourneyWebhook(tx, {
        endpoint_id: step.endpoint_id,
        customer_id: entry.customer_id,
        msg_id: `journey_${entry.id}_${input.seq}`,
        at: now,
        data: {
          journey_id: entry.journey_id,
          entry_id: entry.id,
          step: step.id,
          customer_id: entry.customer_id,
          event: entry.event,
        },
      });
      return { outcome: written ? 'delivered' : 'no_endpoint', next: step.next };
    }
    case 'exit':
      return { outcome: 'exit', next: null };
  }
}
