import type { Logger } from 'pino';
import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { QUEUES } from '../queue/queues.js';

export type TriggerEventType =
  | 'purchase'
  | 'customer_created'
  | 'social_message'
  | 'inactive_for'
  | 'birthday'
  | 'date_attribute'
  | 'event';

/** Something that happened to a customer and may fire triggers; `key` makes a firing unique. */
export interface TriggerEvent {
  event: TriggerEventType;
  key: string;
  customer_id: number;
  purchase_id?: number;
  data?: Record<string, unknown>;
  /** When it happened (ISO); a purchase's is its purchased_at, looked up when absent. */
  at?: string;
  /** Only this trigger (scheduled scans decide per trigger). */
  trigger_id?: number;
}

export interface TriggerJobData {
  events: TriggerEvent[];
}

/**
 * Whether any enabled trigger listens to this event (an import skips enqueuing otherwise).
 * Purchases also matter to every cancel_on_purchase trigger: they cancel its pending messages,
 * and to journeys in play that enter, wait or reach their goal on a purchase (their versions'
 * `listens`): the trigger worker hands every batch on to the journeys.
 */
export async function hasEnabledTriggers(db: Db, event: TriggerEventType): Promise<boolean> {
  const [row] = await db<{ found: boolean }[]>`
    select exists (
      select 1 from triggers
      where enabled and deleted_at is null
        and (event = ${event} or (${event} = 'purchase' and cancel_on_purchase))) or (
      ${event} = 'purchase' and exists (
        select 1 from journey_versions v join journeys j on j.id = v.journey_id
        where j.status in ('active', 'paused') and j.deleted_at is null and 'purchase' = any(v.listens))) as found`;
  return row?.found ?? false;
}

/**
 * The events of newly recorded purchases (one per line; firing groups the lines of an order).
 * A refund is not a purchase: it fires nothing.
 */
export function purchaseEvents(
  created: readonly { id: number; customer_id: number; purchased_at?: Date; kind?: string }[],
): TriggerEvent[] {
  return created
    .filter((p) => p.kind !== 'refund')
    .map((p) => ({
      event: 'purchase',
      key: `purchase:${p.id}`,
      customer_id: p.customer_id,
      purchase_id: p.id,
      ...(p.purchased_at ? { at: p.purchased_at.toISOString() } : {}),
    }));
}

/**
 * The events of new customers. Keyed `customer:<id>`, so a customer fires once whichever way they
 * arrived (the API or an import).
 */
export function customerCreatedEvents(customerIds: readonly number[]): TriggerEvent[] {
  return customerIds.map((id) => ({ event: 'customer_created', key: `customer:${id}`, customer_id: id }));
}

/**
 * Hands events to the trigger queue in jobs of up to 1,000. Firing is idempotent per
 * (trigger, event key), so a duplicate job does nothing twice.
 */
export async function enqueueTriggerEvents(
  jobs: JobDispatcher,
  events: readonly TriggerEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const requests = [];
  for (let i = 0; i < events.length; i += 1000) {
    const slice = events.slice(i, i + 1000);
    requests.push({
      name: 'events',
      data: { events: slice } satisfies TriggerJobData as unknown as Record<string, unknown>,
    });
  }
  await jobs.enqueue(QUEUES.trigger, requests);
}

/** Events recorded in trigger_outbox by a transaction, to hand to the queue once it commits. */
export interface RecordedTriggerEvents {
  ids: number[];
  events: TriggerEvent[];
}

/**
 * Records events in trigger_outbox, in rows of up to 1,000, inside the caller's transaction: they
 * commit with what caused them, or not at all. Callers check `hasEnabledTriggers` first, so an
 * event nobody listens to costs no row.
 */
export async function recordTriggerEvents(
  db: Db,
  events: readonly TriggerEvent[],
): Promise<RecordedTriggerEvents> {
  if (events.length === 0) return { ids: [], events: [] };
  const rows = [];
  for (let i = 0; i < events.length; i += 1000) {
    rows.push({ events: db.json(events.slice(i, i + 1000) as never) });
  }
  const inserted = await db<{ id: number }[]>`insert into trigger_outbox ${db(rows)} returning id`;
  return { ids: inserted.map((r) => r.id), events: [...events] };
}

/**
 * After the commit: enqueues the recorded events at once and deletes their rows. Without a queue
 * (the edge build), or if Redis refuses, the rows stay and the reconciler hands them over
 * (`drainTriggerOutbox`); a repeat is harmless, a firing being unique per (trigger, event key).
 */
export async function releaseTriggerEvents(
  deps: { sql: Db; jobs?: JobDispatcher | undefined; logger?: Pick<Logger, 'warn'> | undefined },
  recorded: RecordedTriggerEvents,
): Promise<void> {
  if (!deps.jobs || recorded.ids.length === 0) return;
  try {
    await enqueueTriggerEvents(deps.jobs, recorded.events);
    await deps.sql`delete from trigger_outbox where id = any(${recorded.ids}::bigint[])`;
  } catch (error) {
    deps.logger?.warn({ err: error, outbox_ids: recorded.ids }, 'trigger events left to the reconciler');
  }
}

/**
 * Runs `work` in a transaction that also records the trigger events of what it wrote
 * (`eventsOf`), then hands them on after the commit: a crash or a lost Redis between the two
 * loses no event, and a worker never reads a row that is not committed yet.
 */
export async function inTransactionThenFire<T>(
  deps: { sql: Sql; jobs?: JobDispatcher | undefined; logger?: Pick<Logger, 'warn'> | undefined },
  work: (tx: Db) => Promise<T>,
  eventsOf: (tx: Db, result: T) => Promise<TriggerEvent[]>,
): Promise<T> {
  const { result, recorded } = (await deps.sql.begin(async (tx) => {
    const result = await work(tx);
    return { result, recorded: await recordTriggerEvents(tx, await eventsOf(tx, result)) };
  })) as { result: T; recorded: RecordedTriggerEvents };
  await releaseTriggerEvents(deps, recorded);
  return result;
}

/** The events of new purchases, when a trigger cares about purchases (none otherwise). */
export async function purchaseTriggerEvents(
  db: Db,
  created: readonly { id: number; customer_id: number; purchased_at?: Date; kind?: string }[],
): Promise<TriggerEvent[]> {
  if (created.length === 0 || !(await hasEnabledTriggers(db, 'purchase'))) return [];
  return purchaseEvents(created);
}

/** The `customer_created` events of new customers, when a trigger listens (none otherwise). */
export async function customerCreatedTriggerEvents(
  db: Db,
  customerIds: readonly number[],
): Promise<TriggerEvent[]> {
  if (customerIds.length === 0 || !(await hasEnabledTriggers(db, 'customer_created'))) return [];
  return customerCreatedEvents(customerIds);
}
