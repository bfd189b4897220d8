import { recordContactEvents } from '../customers/events.js';
import { compileRule } from '../rules/compile.js';
import { buildContexts, type CustomerContext } from '../rules/context.js';
import { segmentAudiencePage } from '../segments/audience.js';
import { selectSegment } from '../segments/store.js';
import type { TriggerEvent } from '../triggers/events.js';
import { type NormalEvent, normalise } from '../triggers/fire.js';
import {
  insertEntries,
  type NewEntry,
  pastEntries,
  reachGoal,
  waitingEntries,
  wakeEntry,
} from './entry-store.js';
import { stepMap } from './graph.js';
import { enqueueSteps } from './jobs.js';
import type { JourneyDeps } from './runner.js';
import type { Definition, Entry } from './schema.js';
import { type VersionFacts, versionsByIds, versionsListening } from './store.js';

// Events reach journeys through the triggers' path (the outbox written with what happened, the
// trigger queue): the trigger worker hands each batch here after firing the triggers. A batch
// first exits those who reached a goal, then wakes those waiting for it, then enters customers.
// Each part is idempotent (entry keys are unique, a wake needs the entry still waiting), so a
// batch handed over twice does nothing twice.

/** The key a journey listens on for an event name: `purchase` or `event:<name>`. */
export const listenKey = (event: string) => (event === 'purchase' ? 'purchase' : `event:${event}`);

const keyOf = (e: TriggerEvent): string | null =>
  e.event === 'purchase' ? 'purchase' : e.event === 'event' ? `event:${String(e.data?.name)}` : null;

/** Whether a filter holds for `{event, customer}`; absent holds, one that throws does not. */
function holds(filter: unknown, data: { event: unknown; customer: unknown }): boolean {
  if (filter === undefined || filter === null) return true;
  try {
    return Boolean(compileRule(filter)(data));
  } catch {
    return false;
  }
}

/** The filter of an event-shaped part of a definition (entry, goal, wait) if `key` is its event. */
function filterFor(part: Entry | NonNullable<Definition['goal']>, key: string): { filter: unknown } | null {
  if ('purchase' in part) return key === 'purchase' ? { filter: part.purchase.filter } : null;
  if ('event' in part) return listenKey(part.event) === key ? { filter: part.filter } : null;
  return null;
}

/** Whether re-entry allows a customer in now, given their past entries in the journey. */
export function mayEnter(
  reEntry: Definition['re_entry'],
  past: { live: boolean; last_entered: Date } | undefined,
  now: Date,
): boolean {
  if (!past) return true;
  if (past.live) return false;
  if (reEntry === undefined || reEntry === 'never') return false;
  if (reEntry === 'after_exit') return true;
  return now.getTime() - past.last_entered.getTime() >= reEntry.after_days * 86_400_000;
}

export interface JourneyEventsResult {
  goals: number;
  woken: number;
  entered: number;
}

/** Hands a batch of trigger events to the journeys listening to them. */
export async function handleJourneyEvents(
  deps: JourneyDeps,
  events: readonly TriggerEvent[],
): Promise<JourneyEventsResult> {
  const result = { goals: 0, woken: 0, entered: 0 };
  const relevant = events.filter((e) => keyOf(e) !== null);
  const keys = [...new Set(relevant.map((e) => keyOf(e)!))];
  const versions = await versionsListening(deps.sql, keys);
  if (versions.length === 0) return result;
  const now = deps.clock();
  const normal = await normalise(deps.sql, relevant, now);
  const customerIds = [...new Set(normal.map((e) => e.source.customer_id))];
  const contexts = await buildContexts(deps.sql, customerIds, now);
  const keyed = normal.map((e) => ({
    event: e,
    key: keyOf(e.source)!,
    customer: contexts.get(e.source.customer_id),
  }));

  // Goals first: reaching one exits at once, wherever the customer is (a wait included).
  const goals: { version_id: number; customer_id: number; revenue: number | null }[] = [];
  for (const v of versions) {
    if (!v.definition.goal) continue;
    for (const e of keyed) {
      const f = filterFor(v.definition.goal, e.key);
      if (f && e.customer && holds(f.filter, { event: e.event.data, customer: e.customer }))
        goals.push({
          version_id: v.version_id,
          customer_id: e.event.source.customer_id,
          revenue: e.key === 'purchase' ? Number(e.event.data.amount ?? 0) : null,
        });
    }
  }
  if (goals.length > 0) {
    await deps.sql.begin(async (tx) => {
      const reached = await reachGoal(tx, goals, now);
      result.goals = reached.length;
      await recordContactEvents(
        tx,
        reached.map((r) => ({
          customer_id: r.customer_id,
          kind: 'journey_step',
          at: now,
          data: { journey_id: r.journey_id, entry_id: r.id, step: r.step, type: 'goal', outcome: 'goal' },
        })),
      );
    });
  }

  result.woken = await wakeWaiting(deps, keyed, now);
  result.entered = await enterByEvents(
    deps,
    versions.filter((v) => v.current && v.status === 'active'),
    keyed,
    now,
  );
  return result;
}

interface KeyedEvent {
  event: NormalEvent;
  key: string;
  customer: CustomerContext | undefined;
}

/** Wakes the entries waiting for these events (whose filter holds); their step runs at once. */
async function wakeWaiting(deps: JourneyDeps, keyed: readonly KeyedEvent[], now: Date): Promise<number> {
  const woken = await deps.sql.begin(async (tx) => {
    const waiting = await waitingEntries(
      tx,
      [...new Set(keyed.map((e) => e.event.source.customer_id))],
      [...new Set(keyed.map((e) => e.key))],
    );
    if (waiting.length === 0) return [];
    const versions = await versionsByIds(tx, [...new Set(waiting.map((w) => w.version_id))]);
    const out: { id: number; seq: number; next_run_at: Date; woken: true }[] = [];
    for (const entry of waiting) {
      // A paused journey holds everyone where they are: the event does not move them.
      if (entry.journey_status !== 'active') continue;
      const step = stepMap(versions.get(entry.version_id)!.definition).get(entry.step!);
      if (step?.type !== 'wait_for_event') continue;
      const match = keyed.find(
        (e) =>
          e.event.source.customer_id === entry.customer_id &&
          e.key === entry.waiting_for &&
          holds(step.filter, { event: e.event.data, customer: e.customer }),
      );
      if (match && (await wakeEntry(tx, entry.id, entry.seq, now)))
        out.push({ id: entry.id, seq: entry.seq, next_run_at: now, woken: true });
    }
    return out;
  });
  await enqueueSteps(deps.jobs, woken, now);
  return woken.length;
}

/** Enters customers into the current versions whose entry event this is (re-entry allowing). */
async function enterByEvents(
  deps: JourneyDeps,
  versions: readonly VersionFacts[],
  keyed: readonly KeyedEvent[],
  now: Date,
): Promise<number> {
  const candidates: NewEntry[] = [];
  for (const v of versions) {
    for (const e of keyed) {
      const f = filterFor(v.definition.entry, e.key);
      if (!f || !e.customer || !holds(f.filter, { event: e.event.data, customer: e.customer })) continue;
      candidates.push({
        journey_id: v.journey_id,
        version_id: v.version_id,
        customer_id: e.event.source.customer_id,
        entry_key: e.event.key,
        event: e.event.data,
        step: v.definition.start,
      });
    }
  }
  return enter(deps, versions, candidates, now);
}

/** Inserts the candidates re-entry lets in (one per customer per journey) and hands them to the queue. */
export async function enter(
  deps: JourneyDeps,
  versions: readonly VersionFacts[],
  candidates: readonly NewEntry[],
  now: Date,
): Promise<number> {
  if (candidates.length === 0) return 0;
  const byJourney = new Map(versions.map((v) => [v.journey_id, v]));
  const past = await pastEntries(
    deps.sql,
    [...new Set(candidates.map((c) => c.journey_id))],
    [...new Set(candidates.map((c) => c.customer_id))],
  );
  const seen = new Set<string>();
  const admitted = candidates.filter((c) => {
    const key = `${c.journey_id}:${c.customer_id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return mayEnter(byJourney.get(c.journey_id)!.definition.re_entry, past.get(key), now);
  });
  const inserted = await insertEntries(deps.sql, admitted, now);
  await enqueueSteps(deps.jobs, inserted, now);
  return inserted.length;
}

/** A segment entry: the segment's audience enters the version, a page at a time. */
export async function enterSegment(
  deps: JourneyDeps,
  job: { journey_id: number; version_id: number },
  options: { pageSize?: number } = {},
): Promise<number> {
  const version = (await versionsByIds(deps.sql, [job.version_id])).get(job.version_id);
  if (version?.status !== 'active' || !('segment_id' in version.definition.entry)) return 0;
  const segment = await selectSegment(deps.sql, version.definition.entry.segment_id);
  if (!segment) return 0;
  const now = deps.clock();
  let afterId = 0;
  let total = 0;
  for (;;) {
    const ids = await segmentAudiencePage(deps.sql, segment.rule, {
      afterId,
      limit: options.pageSize ?? 1000,
      now,
    });
    if (ids.length === 0) return total;
    total += await enter(
      deps,
      [version],
      ids.map((id) => ({
        journey_id: version.journey_id,
        version_id: version.version_id,
        customer_id: id,
        entry_key: `segment:${version.version_id}`,
        event: null,
        step: version.definition.start,
      })),
      now,
    );
    afterId = ids[ids.length - 1]!;
  }
}
