import type { Db } from '../db/sql.js';
import { lockedInIdOrder } from '../messages/ledger.js';
import type { RankerColumns } from '../offers/learning.js';
import type { MessageCategory } from '../policy/schema.js';
import type { TriggerEventType } from './events.js';

// Every query of the triggers module: definitions, settings, firings and their messages.

export interface TriggerRow extends RankerColumns {
  id: number;
  name: string;
  event: TriggerEventType;
  params: Record<string, unknown>;
  filter: unknown;
  delay_hours: number;
  local_hour: number | null;
  template_id: number;
  template_version: number | null;
  offers_per_email: number;
  sender_id: number | null;
  cancel_on_purchase: boolean;
  holdout_percent: number;
  transactional: boolean;
  category: MessageCategory;
  priority: number;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface TriggerWrite extends RankerColumns {
  name: string;
  event: TriggerEventType;
  params: Record<string, unknown>;
  filter: unknown;
  delay_hours: number;
  local_hour: number | null;
  template_id: number;
  template_version: number;
  offers_per_email: number;
  sender_id: number | null;
  cancel_on_purchase: boolean;
  holdout_percent: number;
  transactional: boolean;
  category: MessageCategory;
  priority: number;
  enabled: boolean;
}

const COLUMNS = [
  'name',
  'event',
  'params',
  'filter',
  'delay_hours',
  'local_hour',
  'template_id',
  'template_version',
  'offers_per_email',
  'sender_id',
  'cancel_on_purchase',
  'holdout_percent',
  'transactional',
  'category',
  'priority',
  'enabled',
  'ranker',
  'ranker_objective',
  'ranker_cells',
  'ranker_exploration',
] as const;

const toDb = (sql: Db, w: TriggerWrite) => ({
  ...w,
  params: sql.json(w.params as never),
  filter: w.filter === null || w.filter === undefined ? null : sql.json(w.filter as never),
});

/** Inserts a trigger. */
export async function insertTrigger(sql: Db, w: TriggerWrite): Promise<TriggerRow> {
  const [row] = await sql<TriggerRow[]>`insert into triggers ${sql(toDb(sql, w), ...COLUMNS)} returning *`;
  return row!;
}

/** Replaces the fields of a trigger. */
export async function updateTriggerFields(sql: Db, id: number, w: TriggerWrite): Promise<TriggerRow> {
  const [row] = await sql<TriggerRow[]>`
    update triggers set ${sql(toDb(sql, w), ...COLUMNS)}, updated_at = now() where id = ${id} returning *`;
  return row!;
}

/** One live trigger; `lock` for an edit. */
export async function findTrigger(sql: Db, id: number, lock = false): Promise<TriggerRow | undefined> {
  const [row] = lock
    ? await sql<TriggerRow[]>`select * from triggers where id = ${id} and deleted_at is null for update`
    : await sql<TriggerRow[]>`select * from triggers where id = ${id} and deleted_at is null`;
  return row;
}

/** A page of live triggers, newest first (keyset on id). */
export async function listTriggers(
  sql: Db,
  input: { limit: number; beforeId?: number; event?: string | undefined; enabled?: boolean | undefined },
): Promise<TriggerRow[]> {
  return sql<TriggerRow[]>`
    select * from triggers where deleted_at is null
      ${input.beforeId ? sql`and id < ${input.beforeId}` : sql``}
      ${input.event ? sql`and event = ${input.event}` : sql``}
      ${input.enabled !== undefined ? sql`and enabled = ${input.enabled}` : sql``}
    order by id desc limit ${input.limit + 1}`;
}

/** Soft-deletes a trigger (its messages and firings stay) and disables it. */
export async function markTriggerDeleted(sql: Db, id: number): Promise<boolean> {
  const rows = await sql`
    update triggers set deleted_at = now(), enabled = false, updated_at = now()
    where id = ${id} and deleted_at is null returning id`;
  return rows.length > 0;
}

/** Cancels a trigger's messages not sent yet (deleted or disabled trigger). */
export async function cancelPendingOfTrigger(sql: Db, triggerId: number): Promise<number> {
  const rows = await sql`
    update messages m set status = 'cancelled', suppressed_reason = 'trigger_disabled', updated_at = now()
    from ${lockedInIdOrder(sql, sql`trigger_id = ${triggerId} and status = 'queued'`)}
    where m.id = locked.id returning m.id`;
  return rows.length;
}

/** The latest version of a template, or undefined when it does not exist. */
export async function templateLatest(sql: Db, id: number): Promise<number | undefined> {
  const [row] = await sql<
    { latest_version: number }[]
  >`select latest_version from templates where id = ${id}`;
  return row?.latest_version;
}

/** Whether a template version exists. */
export async function templateVersionExists(sql: Db, id: number, version: number): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from template_versions where template_id = ${id} and version = ${version}) as found`;
  return row?.found ?? false;
}

export interface TriggerSettings {
  max_messages: number;
  days: number;
}

/** The frequency cap across all triggers. */
export async function readSettings(sql: Db): Promise<TriggerSettings> {
  const [row] = await sql<TriggerSettings[]>`
    select cap_messages as max_messages, cap_days as days from trigger_settings where id`;
  return row ?? { max_messages: 3, days: 7 };
}

/** Replaces the frequency cap. */
export async function writeSettings(sql: Db, s: TriggerSettings): Promise<TriggerSettings> {
  const [row] = await sql<TriggerSettings[]>`
    insert into trigger_settings (id, cap_messages, cap_days) values (true, ${s.max_messages}, ${s.days})
    on conflict (id) do update set cap_messages = excluded.cap_messages, cap_days = excluded.cap_days
    returning cap_messages as max_messages, cap_days as days`;
  return row!;
}

/** Enabled triggers listening to these events (or exactly these ids, for scheduled scans). */
export async function enabledTriggers(
  sql: Db,
  input: { events: TriggerEventType[]; ids?: number[] },
): Promise<TriggerRow[]> {
  return sql<TriggerRow[]>`
    select * from triggers
    where enabled and deleted_at is null and event = any(${input.events}::text[])
      ${input.ids ? sql`and id = any(${input.ids}::bigint[])` : sql``}
    order by id`;
}

/** Whether an enabled trigger is cancelled by purchases (purchase events matter then too). */
export async function hasCancelOnPurchase(sql: Db): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (select 1 from triggers where cancel_on_purchase and enabled and deleted_at is null) as found`;
  return row?.found ?? false;
}

export interface PurchaseFacts {
  id: number;
  customer_id: number;
  order_ref: string | null;
  sku: string | null;
  category: string | null;
  quantity: number;
  amount: number;
  currency: string;
  purchased_at: Date;
}

/** The purchases behind purchase events, for filters and order grouping. */
export async function purchasesByIds(sql: Db, ids: number[]): Promise<PurchaseFacts[]> {
  if (ids.length === 0) return [];
  return sql<PurchaseFacts[]>`
    select id, customer_id, order_ref, sku, category, quantity, amount, currency, purchased_at
    from purchases where id = any(${ids}::bigint[]) order by id`;
}

/** The lines of a customer's latest order (its latest purchase and the lines sharing its order_ref). */
export async function latestOrderLineIds(sql: Db, customerId: number): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    with latest as (
      select id, order_ref from purchases where customer_id = ${customerId}
      order by purchased_at desc, id desc limit 1)
    select p.id from purchases p, latest l
    where p.customer_id = ${customerId} and (p.id = l.id or (l.order_ref is not null and p.order_ref = l.order_ref))
    order by p.id`;
  return rows.map((r) => r.id);
}

/** Which (trigger, event key) pairs already fired, as `trigger|key` strings. */
export async function existingFirings(
  sql: Db,
  pairs: { trigger_id: number; event_key: string }[],
): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await sql<{ k: string }[]>`
    select f.trigger_id || '|' || f.event_key as k
    from trigger_firings f
    join unnest(${pairs.map((p) => p.trigger_id)}::bigint[], ${pairs.map((p) => p.event_key)}::text[]) as i(trigger_id, event_key)
      on f.trigger_id = i.trigger_id and f.event_key = i.event_key`;
  return new Set(rows.map((r) => r.k));
}

/** Automated messages per customer inside the cap window (queued, being sent or sent). */
export async function recentTriggerMessageCounts(
  sql: Db,
  input: { customerIds: number[]; days: number; now: Date },
): Promise<Map<number, number>> {
  if (input.customerIds.length === 0) return new Map();
  const rows = await sql<{ customer_id: number; n: number }[]>`
    select customer_id, count(*)::int as n from messages
    where trigger_id is not null and customer_id = any(${input.customerIds}::bigint[])
      and status in ('queued', 'sending', 'sent')
      and created_at > ${input.now}::timestamptz - make_interval(days => ${input.days})
    group by customer_id`;
  return new Map(rows.map((r) => [r.customer_id, r.n]));
}

export interface FiringRow {
  trigger_id: number;
  event_key: string;
  customer_id: number;
  outcome: 'queued' | 'suppressed' | 'capped' | 'holdout';
  event_at: string;
  message_id: number | null;
  template_id: number;
  template_version: number | null;
  offer_ids: number[];
  held_out_offer_ids: number[];
  suppressed_reason: string | null;
  send_at: string;
  /** The customer's cell when the learning ranker decided the offers. */
  ranker_cell: string | null;
}

/** Message ids taken ahead, so a firing and its message are written in one statement. */
export async function allocateMessageIds(sql: Db, n: number): Promise<number[]> {
  if (n === 0) return [];
  const rows = await sql<{ id: number }[]>`
    select nextval(pg_get_serial_sequence('messages', 'id')) as id from generate_series(1, ${n})`;
  return rows.map((r) => r.id);
}

/**
 * Records firings and their messages in one statement: a firing that exists already (the same
 * purchase imported twice, a second worker) inserts nothing, and then neither does its message.
 * Rows go in key order: two workers firing overlapping events then wait on each other's keys in
 * the same order instead of deadlocking.
 */
export async function insertFirings(
  sql: Db,
  unordered: FiringRow[],
): Promise<{ id: number; status: string; send_at: Date; customer_id: number }[]> {
  if (unordered.length === 0) return [];
  const rows = [...unordered].sort(
    (a, b) =>
      a.trigger_id - b.trigger_id || (a.event_key < b.event_key ? -1 : a.event_key > b.event_key ? 1 : 0),
  );
  return sql<{ id: number; status: string; send_at: Date; customer_id: number }[]>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
        trigger_id bigint, event_key text, customer_id bigint, outcome text, event_at timestamptz,
        message_id bigint, template_id bigint, template_version int, offer_ids bigint[],
        held_out_offer_ids bigint[], suppressed_reason text, send_at timestamptz, ranker_cell text)
    ), fired as (
      insert into trigger_firings (trigger_id, event_key, customer_id, message_id, outcome, event_at)
      select trigger_id, event_key, customer_id, message_id, outcome, event_at from input
      on conflict (trigger_id, event_key) do nothing
      returning trigger_id, event_key
    )
    insert into messages (id, trigger_id, customer_id, template_id, template_version, offer_ids, held_out_offer_ids, status, suppressed_reason, send_at, ranker_cell)
    overriding system value
    select i.message_id, i.trigger_id, i.customer_id, i.template_id, i.template_version, i.offer_ids,
      i.held_out_offer_ids, i.outcome, i.suppressed_reason, i.send_at, i.ranker_cell
    from input i join fired f on f.trigger_id = i.trigger_id and f.event_key = i.event_key
    where i.message_id is not null
    returning id, status, send_at, customer_id`;
}

/**
 * Cancels queued messages of cancel_on_purchase triggers for these customers when a purchase
 * happened after the event that fired them (the purchase that fired a message never cancels it).
 */
export async function cancelSupersededByPurchase(sql: Db, customerIds: number[]): Promise<number[]> {
  if (customerIds.length === 0) return [];
  const superseded = sql`
    customer_id = any(${customerIds}::bigint[]) and status = 'queued' and trigger_id is not null
    and exists (
      select 1 from trigger_firings f join triggers t on t.id = f.trigger_id
      where f.message_id = messages.id and t.cancel_on_purchase
        and exists (
          select 1 from purchases p where p.customer_id = messages.customer_id and p.kind = 'purchase'
            and p.purchased_at > f.event_at))`;
  const rows = await sql<{ id: number }[]>`
    update messages m set status = 'cancelled', suppressed_reason = 'purchased_since', updated_at = now()
    from ${lockedInIdOrder(sql, superseded)}
    where m.id = locked.id
    returning m.id`;
  return rows.map((r) => r.id);
}

/** Trigger messages still queued whose job may be lost: idle for `idleSeconds`, keyset by id. */
export async function unsentTriggerMessages(
  sql: Db,
  input: { afterId: number; limit: number; idleSeconds: number },
): Promise<{ id: number; send_at: Date | null }[]> {
  return sql<{ id: number; send_at: Date | null }[]>`
    select id, send_at from messages
    where trigger_id is not null and status in ('queued', 'sending') and id > ${input.afterId}
      and greatest(updated_at, coalesce(enqueued_at, updated_at)) < now() - make_interval(secs => ${input.idleSeconds})
    order by id limit ${input.limit}`;
}

/** Counts of a trigger's messages by status (the trigger's own small report). */
export async function triggerMessageCounts(sql: Db, triggerId: number): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from messages where trigger_id = ${triggerId} group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/**
 * Customers whose last purchase is at least `days` old, with that purchase's id (an inactivity
 * episode fires once; a new purchase starts another), not yet fired for this trigger. Keyset.
 */
export async function inactiveCustomers(
  sql: Db,
  input: { triggerId: number; days: number; now: Date; afterId: number; limit: number },
): Promise<{ customer_id: number; last_purchase_id: number; last_purchase_at: Date }[]> {
  return sql<{ customer_id: number; last_purchase_id: number; last_purchase_at: Date }[]>`
    select c.id as customer_id, lp.id as last_purchase_id, lp.purchased_at as last_purchase_at
    from customers c
    cross join lateral (
      select p.id, p.purchased_at from purchases p where p.customer_id = c.id and p.kind = 'purchase'
      order by p.purchased_at desc, p.id desc limit 1) lp
    where c.erased_at is null and c.id > ${input.afterId}
      and lp.purchased_at <= ${input.now}::timestamptz - make_interval(days => ${input.days})
      and not exists (
        select 1 from trigger_firings f
        where f.trigger_id = ${input.triggerId} and f.event_key = 'inactive_for:' || c.id || ':' || lp.id)
    order by c.id limit ${input.limit}`;
}

/**
 * Customers whose birthday is today in their own timezone (UTC when unknown); 29 February
 * birthdays fall on 28 February in other years. Returns the local year for the event key.
 */
export async function birthdayCustomers(
  sql: Db,
  input: { now: Date; afterId: number; limit: number },
): Promise<{ customer_id: number; local_year: number }[]> {
  return sql<{ customer_id: number; local_year: number }[]>`
    select id as customer_id, extract(year from local_day)::int as local_year
    from (
      select c.id, c.birth_date,
        (${input.now}::timestamptz at time zone coalesce(tz.name, 'UTC'))::date as local_day
      from customers c
      left join pg_timezone_names tz on tz.name = c.timezone
      where c.birth_date is not null and c.erased_at is null and c.id > ${input.afterId}
    ) x
    where (extract(month from birth_date) = extract(month from local_day)
        and extract(day from birth_date) = extract(day from local_day))
      or (extract(month from birth_date) = 2 and extract(day from birth_date) = 29
        and extract(month from local_day) = 2 and extract(day from local_day) = 28
        and extract(day from (date_trunc('year', local_day) + interval '2 months - 1 day')) = 28)
    order by id limit ${input.limit}`;
}

/**
 * Customers whose date attribute plus `offsetDays` is today in their timezone. Compared as text
 * (`YYYY-MM-DD` prefix), so a value that is not a date is ignored rather than failing the scan.
 */
export async function dateAttributeCustomers(
  sql: Db,
  input: { attribute: string; offsetDays: number; now: Date; afterId: number; limit: number },
): Promise<{ customer_id: number; date: string }[]> {
  return sql<{ customer_id: number; date: string }[]>`
    select id as customer_id, left(v, 10) as date
    from (
      select c.id, c.attributes ->> ${input.attribute} as v,
        (${input.now}::timestamptz at time zone coalesce(tz.name, 'UTC'))::date as local_day
      from customers c
      left join pg_timezone_names tz on tz.name = c.timezone
      where c.erased_at is null and c.id > ${input.afterId} and c.attributes ? ${input.attribute}
    ) x
    where left(v, 10) = to_char(local_day - ${input.offsetDays}::int, 'YYYY-MM-DD')
    order by id limit ${input.limit}`;
}
