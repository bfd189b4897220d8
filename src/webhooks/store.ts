import type { Db } from '../db/sql.js';

// The SQL of outbound webhooks: endpoints, and their deliveries (written by the database
// triggers of migrations/0027 in the transaction that recorded what happened).

export interface EndpointRow {
  id: number;
  url: string;
  description: string | null;
  events: string[];
  secret: string;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function insertEndpoint(
  db: Db,
  input: { url: string; description: string | null; events: string[]; secret: string; enabled: boolean },
) {
  return db<EndpointRow[]>`
    insert into webhook_endpoints (url, description, events, secret, enabled)
    values (${input.url}, ${input.description}, ${input.events}, ${input.secret}, ${input.enabled})
    returning *`;
}

/** Live endpoints, newest first, after `beforeId`. */
export function selectEndpoints(db: Db, input: { limit: number; beforeId?: number | undefined }) {
  return db<EndpointRow[]>`
    select * from webhook_endpoints where deleted_at is null
      ${input.beforeId ? db`and id < ${input.beforeId}` : db``}
    order by id desc limit ${input.limit + 1}`;
}

export async function selectEndpoint(db: Db, id: number): Promise<EndpointRow | undefined> {
  const [row] = await db<
    EndpointRow[]
  >`select * from webhook_endpoints where id = ${id} and deleted_at is null`;
  return row;
}

/** Applies a patch; enabling again clears the reason it was disabled. */
export async function updateEndpoint(
  db: Db,
  id: number,
  patch: { url?: string; description?: string | null; events?: string[]; enabled?: boolean },
): Promise<EndpointRow | undefined> {
  const [row] = await db<EndpointRow[]>`
    update webhook_endpoints set
      url = coalesce(${patch.url ?? null}, url),
      description = case when ${patch.description !== undefined} then ${patch.description ?? null} else description end,
      events = coalesce(${patch.events ?? null}::text[], events),
      enabled = coalesce(${patch.enabled ?? null}::boolean, enabled),
      disabled_reason = case when ${patch.enabled === true} then null else disabled_reason end,
      disabled_at = case when ${patch.enabled === true} then null else disabled_at end,
      updated_at = now()
    where id = ${id} and deleted_at is null
    returning *`;
  return row;
}

/** Soft-deletes an endpoint; its pending deliveries will not go out. */
export async function deleteEndpoint(db: Db, id: number): Promise<boolean> {
  const rows = await db`
    update webhook_endpoints set deleted_at = now(), enabled = false, updated_at = now()
    where id = ${id} and deleted_at is null returning id`;
  if (rows.length > 0) {
    await db`update webhook_deliveries set status = 'failed', last_error = 'endpoint deleted'
      where endpoint_id = ${id} and status = 'pending'`;
  }
  return rows.length > 0;
}

/** Disables an endpoint that keeps failing, saying why. */
export async function disableEndpoint(db: Db, id: number, reason: string): Promise<void> {
  await db`
    update webhook_endpoints set enabled = false, disabled_reason = ${reason}, disabled_at = now(), updated_at = now()
    where id = ${id} and enabled`;
}

export interface DeliveryRow {
  id: number;
  endpoint_id: number;
  event: string;
  customer_id: number | null;
  msg_id: string;
  payload: Record<string, unknown>;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
  /** Waiting behind an older untried delivery to the same endpoint about the same customer. */
  held: boolean;
}

/**
 * Per customer in order: a delivery waits while an older one to the same endpoint about the
 * same customer has not been tried yet (`d` is the delivery's alias).
 */
const noOlderUntried = (db: Db) => db`not exists (
  select 1 from webhook_deliveries o
  where o.endpoint_id = d.endpoint_id and o.customer_id = d.customer_id
    and o.status = 'pending' and o.attempts = 0 and o.id < d.id)`;

/**
 * One page of the deliveries due now that may go out (not `held` behind an older untried one of
 * their customer: the first untried one per customer, and retries), in (next_attempt_at, id)
 * order after `after`, for the poller to enqueue. An index scan of `limit` entries of
 * webhook_deliveries_ready_idx, whatever the backlog: the held ones are not in that index.
 */
export function selectDueDeliveries(db: Db, limit: number, after?: { at: Date; id: number }) {
  return db<{ id: number; attempts: number; next_attempt_at: Date }[]>`
    select d.id, d.attempts, d.next_attempt_at from webhook_deliveries d
    where d.status = 'pending' and not d.held and d.next_attempt_at <= now()
      ${after ? db`and (d.next_attempt_at, d.id) > (${after.at}, ${after.id})` : db``}
    order by d.next_attempt_at, d.id limit ${limit}`;
}

export type ClaimedDelivery = DeliveryRow & { url: string; secret: string; enabled: boolean };

/**
 * Claims due deliveries for one attempt each, in one statement: their next attempt moves
 * `leaseSeconds` ahead, so a duplicate job or another worker skips them meanwhile. One is not
 * claimed while an older delivery to the same endpoint about the same customer has not been
 * tried yet (order per customer). Those that could not be claimed are left out.
 */
export function claimDeliveries(db: Db, ids: readonly number[], leaseSeconds: number) {
  return db<ClaimedDelivery[]>`
    with claimed as (
      update webhook_deliveries d set next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
      where d.id = any(${ids as number[]}::bigint[]) and d.status = 'pending' and d.next_attempt_at <= now()
        and ${noOlderUntried(db)}
      returning d.*
    )
    select c.*, w.url, w.secret, w.enabled and w.deleted_at is null as enabled
    from claimed c join webhook_endpoints w on w.id = c.endpoint_id
    order by c.id`;
}

export interface AttemptOutcome {
  id: number;
  status: 'succeeded' | 'pending' | 'failed';
  httpStatus: number | null;
  error: string | null;
  /** When to try again (pending only). */
  next?: Date;
}

/**
 * Records attempts' outcomes in one statement (delivered, to be tried again, or failed for
 * good; an attempted delivery is never held, so a retry is polled again), then releases the
 * next delivery of each of their customers (releaseNext).
 */
export async function recordAttempts(db: Db, outcomes: readonly AttemptOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((o) => ({
    id: o.id,
    status: o.status,
    http_status: o.httpStatus,
    error: o.error,
    next: o.next?.toISOString() ?? null,
  }));
  await db`
    update webhook_deliveries d set
      status = o.status, attempts = d.attempts + 1, held = false,
      last_status = o.http_status, last_error = o.error,
      next_attempt_at = coalesce(o.next, d.next_attempt_at),
      delivered_at = case when o.status = 'succeeded' then now() else d.delivered_at end
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      as o(id bigint, status text, http_status int, error text, next timestamptz)
    where d.id = o.id`;
  await releaseNext(
    db,
    outcomes.map((o) => o.id),
  );
}

/**
 * Clears `held` on the oldest untried pending delivery of each (endpoint, customer) of these
 * deliveries: once they were attempted it is the first of its customer, so it may go out, due
 * from now (after the poller's cursor). A statement after the update, not part of it: a
 * delivery written meanwhile locked the one recorded (see webhook_emit), so this statement,
 * which starts once that write committed, sees it. Where the oldest untried one was not held,
 * nothing changes.
 */
async function releaseNext(db: Db, ids: readonly number[]): Promise<void> {
  await db`
    update webhook_deliveries n set held = false, next_attempt_at = greatest(n.next_attempt_at, now())
    from (select distinct endpoint_id, customer_id from webhook_deliveries
      where id = any(${ids as number[]}::bigint[]) and customer_id is not null) k
    where n.held and n.id = (
      select min(o.id) from webhook_deliveries o
      where o.endpoint_id = k.endpoint_id and o.customer_id = k.customer_id
        and o.status = 'pending' and o.attempts = 0)`;
}

/** An endpoint's deliveries, newest first. */
export function selectDeliveries(
  db: Db,
  input: { endpointId: number; limit: number; beforeId?: number | undefined; status?: string | undefined },
) {
  return db<DeliveryRow[]>`
    select * from webhook_deliveries
    where endpoint_id = ${input.endpointId}
      ${input.status ? db`and status = ${input.status}` : db``}
      ${input.beforeId ? db`and id < ${input.beforeId}` : db``}
    order by id desc limit ${input.limit + 1}`;
}

/**
 * Sends a delivery again (whatever its state): pending and due now. One attempted before holds
 * nothing back and is not held; an untried one waiting behind an older one still waits.
 */
export async function replayDelivery(
  db: Db,
  endpointId: number,
  id: number,
): Promise<DeliveryRow | undefined> {
  const [row] = await db<DeliveryRow[]>`
    update webhook_deliveries set status = 'pending', next_attempt_at = now(), last_error = null,
      held = held and status = 'pending' and attempts = 0
    where id = ${id} and endpoint_id = ${endpointId}
    returning *`;
  return row;
}
