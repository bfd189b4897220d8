import type { Db } from '../db/sql.js';

// A customer's emails in the send ledger (`messages`), campaign and automated alike.

export const MESSAGE_STATUSES = [
  'queued',
  'held',
  'sending',
  'sent',
  'failed',
  'suppressed',
  'cancelled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface CustomerMessageRow {
  id: number;
  customer_id: number;
  campaign_id: number | null;
  campaign_name: string | null;
  trigger_id: number | null;
  trigger_name: string | null;
  variant: string | null;
  status: MessageStatus;
  suppressed_reason: string | null;
  policy_reason: string | null;
  error: string | null;
  offer_ids: number[];
  send_at: Date | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT = (db: Db) => db`
  select m.id, m.customer_id, m.campaign_id, c.name as campaign_name, m.trigger_id, t.name as trigger_name,
    m.variant, m.status, m.suppressed_reason, m.policy_reason, m.error, m.offer_ids, m.send_at, m.sent_at, m.created_at, m.updated_at
  from messages m
    left join campaigns c on c.id = m.campaign_id
    left join triggers t on t.id = m.trigger_id`;

/** A customer's messages newest first (by id), keyset before `beforeId`, optionally by status. */
export async function customerMessages(
  db: Db,
  input: {
    customerId: number;
    limit: number;
    beforeId?: number | undefined;
    statuses?: MessageStatus[] | undefined;
  },
): Promise<CustomerMessageRow[]> {
  return db<CustomerMessageRow[]>`
    ${SELECT(db)}
    where m.customer_id = ${input.customerId}
      ${input.beforeId ? db`and m.id < ${input.beforeId}` : db``}
      ${input.statuses ? db`and m.status = any(${input.statuses}::text[])` : db``}
    order by m.id desc
    limit ${input.limit + 1}`;
}

export async function findMessage(db: Db, id: number): Promise<CustomerMessageRow | undefined> {
  const [row] = await db<CustomerMessageRow[]>`${SELECT(db)} where m.id = ${id}`;
  return row;
}

/**
 * Cancels one message not sent yet (queued or held for an A/B winner); the row is locked, so a
 * sender claiming it meanwhile either wins (then it is `sending`, no longer cancellable) or finds
 * it cancelled. Returns whether it was cancelled.
 */
export async function cancelMessage(db: Db, id: number, reason: string): Promise<boolean> {
  const rows = await db`
    update messages set status = 'cancelled', suppressed_reason = ${reason}, updated_at = now()
    where id = ${id} and status in ('queued', 'held') returning id`;
  return rows.length > 0;
}

// The local hour (in the customer's timezone; UTC when unknown to PostgreSQL) of a touch.
const LOCAL_HOUR = `extract(hour from e.at at time zone
  case when c.timezone in (select name from pg_timezone_names) then c.timezone else 'UTC' end)::int`;

// Human opens and clicks of the last `days` by local hour, per customer (with their timezone).
export async function customerTouchHours(
  sql: Db,
  customerIds: readonly number[],
  days: number,
): Promise<Map<number, { timezone: string | null; hours: number[] }>> {
  const rows = await sql<{ id: number; timezone: string | null; hour: number | null; n: number }[]>`
    select c.id, c.timezone, ${sql.unsafe(LOCAL_HOUR)} as hour, count(e.id)::int as n
    from customers c
    left join contact_events e on e.customer_id = c.id and e.kind in ('opened', 'clicked') and not e.machine
      and e.at > now() - make_interval(days => ${days})
    where c.id = any(${customerIds as number[]}::bigint[])
    group by 1, 2, 3`;
  const own = new Map<number, { timezone: string | null; hours: number[] }>();
  for (const r of rows) {
    const entry = own.get(r.id) ?? { timezone: r.timezone, hours: new Array<number>(24).fill(0) };
    if (r.hour !== null) entry.hours[r.hour] = (entry.hours[r.hour] ?? 0) + r.n;
    own.set(r.id, entry);
  }
  return own;
}

// Everyone's human opens and clicks of the last `days` by local hour: the profile a customer with
// little history is shrunk toward.
export async function populationTouchHours(sql: Db, days: number): Promise<number[]> {
  const rows = await sql<{ hour: number; n: number }[]>`
    select ${sql.unsafe(LOCAL_HOUR)} as hour, count(*)::int as n
    from contact_events e join customers c on c.id = e.customer_id
    where e.kind in ('opened', 'clicked') and not e.machine and e.at > now() - make_interval(days => ${days})
    group by 1`;
  const population = new Array<number>(24).fill(0);
  for (const r of rows) population[r.hour] = (population[r.hour] ?? 0) + r.n;
  return population;
}
