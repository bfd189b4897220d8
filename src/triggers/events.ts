import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';

export const TRIGGER_QUEUE = 'trigger';

export type TriggerEventType =
  | 'purchase'
  | 'customer_created'
  | 'social_message'
  | 'inactive_for'
  | 'birthday'
  | 'date_attribute';

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
 * Purchases also matter to every cancel_on_purchase trigger: they cancel its pending messages.
 */
export async function hasEnabledTriggers(db: Db, event: TriggerEventType): Promise<boolean> {
  const [row] = await db<{ found: boolean }[]>`
    select exists (
      select 1 from triggers
      where enabled and deleted_at is null
        and (event = ${event} or (${event} = 'purchase' and cancel_on_purchase))) as found`;
  return row?.found ?? false;
}

/** The events of newly recorded purchases (one per line; firing groups the lines of an order). */
export function purchaseEvents(
  created: readonly { id: number; customer_id: number; purchased_at?: Date }[],
): TriggerEvent[] {
  return created.map((p) => ({
    event: 'purchase',
    key: `purchase:${p.id}`,
    customer_id: p.customer_id,
    purchase_id: p.id,
    ...(p.purchased_at ? { at: p.purchased_at.toISOString() } : {}),
  }));
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
  await jobs.enqueue(TRIGGER_QUEUE, requests);
}

/**
 * Hands committed events on: to the trigger queue when there is one, otherwise (the edge build)
 * to `trigger_outbox` rows of up to 1,000 events that the Node reconciler drains
 * (`drainTriggerOutbox`). Callers check `hasEnabledTriggers` first, so an unused event costs no row.
 */
export async function handOverTriggerEvents(
  deps: { sql: Db; jobs?: JobDispatcher | undefined },
  events: readonly TriggerEvent[],
): Promise<void> {
  if (events.length === 0) return;
  if (deps.jobs) return enqueueTriggerEvents(deps.jobs, events);
  const rows = [];
  for (let i = 0; i < events.length; i += 1000) {
    rows.push({ events: deps.sql.json(events.slice(i, i + 1000) as never) });
  }
  // Records events for the reconciler to hand to the trigger queue (one statement, all chunks).
  await deps.sql`insert into trigger_outbox ${deps.sql(rows)}`;
}

/**
 * Runs `work` in a transaction and hands on the trigger events of what it wrote (`fire`): without
 * a queue (the edge build) into trigger_outbox inside the same transaction, so the events commit
 * with their cause or not at all (an isolate that dies after the commit loses nothing); with a
 * queue, after the commit, so a worker never reads a row that is not committed yet.
 */
export async function inTransactionThenFire<T>(
  deps: { sql: Sql; jobs?: JobDispatcher | undefined },
  work: (tx: Db) => Promise<T>,
  fire: (deps: { sql: Db; jobs?: JobDispatcher | undefined }, result: T) => Promise<void>,
): Promise<T> {
  if (!deps.jobs) {
    return deps.sql.begin(async (tx) => {
      const result = await work(tx);
      await fire({ sql: tx }, result);
      return result;
    }) as Promise<T>;
  }
  const result = (await deps.sql.begin((tx) => work(tx))) as T;
  await fire(deps, result);
  return result;
}

/**
 * After new purchases are committed (the API, an integration): hands their events on when a
 * trigger cares about purchases.
 */
export async function firePurchaseTriggers(
  deps: { sql: Db; jobs?: JobDispatcher | undefined },
  created: readonly { id: number; customer_id: number; purchased_at?: Date }[],
): Promise<void> {
  if (created.length === 0) return;
  if (!(await hasEnabledTriggers(deps.sql, 'purchase'))) return;
  await handOverTriggerEvents(deps, purchaseEvents(created));
}

/**
 * After new customers are committed (the API): hands their `customer_created` events on when a
 * trigger listens. Keyed `customer:<id>` like the import's, so a customer fires once whichever
 * way they arrived.
 */
export async function fireCustomerCreatedTriggers(
  deps: { sql: Db; jobs?: JobDispatcher | undefined },
  customerIds: readonly number[],
): Promise<void> {
  if (customerIds.length === 0) return;
  if (!(await hasEnabledTriggers(deps.sql, 'customer_created'))) return;
  await handOverTriggerEvents(
    deps,
    customerIds.map((id) => ({ event: 'customer_created', key: `customer:${id}`, customer_id: id })),
  );
}
