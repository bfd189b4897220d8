import type { Db } from '../db/sql.js';

// The SQL of journey entries (one row per customer per entry) and their step runs.

export interface EntryRow {
  id: number;
  journey_id: number;
  version_id: number;
  customer_id: number;
  entry_key: string;
  event: Record<string, unknown> | null;
  status: 'active' | 'completed' | 'exited' | 'goal';
  exit_reason: string | null;
  step: string | null;
  since: Date;
  next_run_at: Date | null;
  seq: number;
  waiting_for: string | null;
  entered_at: Date;
  exited_at: Date | null;
}

export interface NewEntry {
  journey_id: number;
  version_id: number;
  customer_id: number;
  entry_key: string;
  event: Record<string, unknown> | null;
  step: string;
}

/**
 * Inserts entries, due at once; one that repeats an entry key or would be a second live entry of
 * the customer in the journey is skipped. Returns those written.
 */
export async function insertEntries(
  sql: Db,
  rows: readonly NewEntry[],
  now: Date,
): Promise<{ id: number; seq: number; next_run_at: Date }[]> {
  if (rows.length === 0) return [];
  // Sorted, so concurrent batches take the unique index entries in one order.
  const sorted = [...rows].sort((a, b) => a.journey_id - b.journey_id || a.customer_id - b.customer_id);
  return sql<{ id: number; seq: number; next_run_at: Date }[]>`
    insert into journey_entries (journey_id, version_id, customer_id, entry_key, event, step, since, next_run_at, entered_at)
    select r.journey_id, r.version_id, r.customer_id, r.entry_key, r.event, r.step, ${now}, ${now}, ${now}
    from jsonb_to_recordset(${JSON.stringify(sorted)}::text::jsonb) as r(
      journey_id bigint, version_id bigint, customer_id bigint, entry_key text, event jsonb, step text)
    on conflict do nothing
    returning id, seq, next_run_at`;
}

/** Per (journey, customer): whether they are inside now, and when they last entered and left. */
export async function pastEntries(
  sql: Db,
  journeyIds: readonly number[],
  customerIds: readonly number[],
): Promise<Map<string, { live: boolean; last_entered: Date; ever_exited: boolean }>> {
  if (journeyIds.length === 0 || customerIds.length === 0) return new Map();
  const rows = await sql<
    { journey_id: number; customer_id: number; live: boolean; last_entered: Date; ever_exited: boolean }[]
  >`
    select journey_id, customer_id, bool_or(status = 'active') as live, max(entered_at) as last_entered,
      bool_or(status <> 'active') as ever_exited
    from journey_entries
    where journey_id = any(${journeyIds as number[]}::bigint[]) and customer_id = any(${customerIds as number[]}::bigint[])
    group by journey_id, customer_id`;
  return new Map(rows.map((r) => [`${r.journey_id}:${r.customer_id}`, r]));
}

/**
 * Claims the due steps of many entries in one statement: locks each entry that is live at its
 * job's `seq` and due. Rows another transaction holds are skipped, not waited for (SKIP LOCKED):
 * a batch never queues behind another, and whoever holds the row runs that step.
 */
export async function claimDueEntries(
  sql: Db,
  jobs: readonly { entry_id: number; seq: number }[],
  now: Date,
): Promise<(EntryRow & { journey_status: string })[]> {
  if (jobs.length === 0) return [];
  return sql<(EntryRow & { journey_status: string })[]>`
    select e.*, j.status as journey_status
    from journey_entries e join journeys j on j.id = e.journey_id
    join unnest(${jobs.map((j) => j.entry_id)}::bigint[], ${jobs.map((j) => j.seq)}::int[]) as k(id, seq)
      on k.id = e.id and k.seq = e.seq
    where e.status = 'active' and e.next_run_at is not null and e.next_run_at <= ${now}
    order by e.id
    for update of e skip locked`;
}

/**
 * Claims up to `limit` entries due at `now` in active journeys, oldest due first, skipping rows
 * another transaction holds: what a sweep of due steps runs. The journey's status is a scalar
 * subquery, not a join: a join lets the planner hash every due entry and sort them for each page
 * (126 ms for a page of 500 among 78,000 due), the subquery keeps the scan in the order of the
 * partial index on next_run_at, stopping at `limit` (under a millisecond). Its estimate is so
 * high that PostgreSQL would JIT-compile the statement (700 ms), so JIT is off for the
 * transaction (the caller's: `set local`). Entries of paused journeys due before the active ones
 * are scanned past on every page.
 */
export async function claimDueNow(
  sql: Db,
  now: Date,
  limit: number,
): Promise<(EntryRow & { journey_status: string })[]> {
  await sql`set local jit = off`;
  return sql<(EntryRow & { journey_status: string })[]>`
    select e.*, 'active' as journey_status
    from journey_entries e
    where e.status = 'active' and e.next_run_at <= ${now}
      and (select j.status from journeys j where j.id = e.journey_id) = 'active'
    order by e.next_run_at limit ${limit}
    for update of e skip locked`;
}

/** Entries due at `now` in active journeys, oldest due first, read without a lock. */
export async function dueNow(
  sql: Db,
  now: Date,
  limit: number,
): Promise<{ entry_id: number; seq: number }[]> {
  return sql<{ entry_id: number; seq: number }[]>`
    select e.id as entry_id, e.seq
    from journey_entries e join journeys j on j.id = e.journey_id
    where e.status = 'active' and e.next_run_at <= ${now} and j.status = 'active'
    order by e.next_run_at limit ${limit}`;
}

/** Puts an entry's due step off until `until` (its run failed): still live at that seq. */
export async function deferEntry(sql: Db, id: number, seq: number, until: Date): Promise<void> {
  await sql`
    update journey_entries set next_run_at = ${until}
    where id = ${id} and seq = ${seq} and status = 'active'`;
}

/**
 * Of entries a claim skipped, those still live at that seq and due (read without a lock): held
 * by another transaction at that moment, so their job should come back rather than be dropped.
 */
export async function stillDueEntries(
  sql: Db,
  jobs: readonly { entry_id: number; seq: number }[],
  now: Date,
): Promise<Set<number>> {
  if (jobs.length === 0) return new Set();
  const rows = await sql<{ id: number }[]>`
    select e.id from journey_entries e
    join unnest(${jobs.map((j) => j.entry_id)}::bigint[], ${jobs.map((j) => j.seq)}::int[]) as k(id, seq)
      on k.id = e.id and k.seq = e.seq
    where e.status = 'active' and e.next_run_at is not null and e.next_run_at <= ${now}`;
  return new Set(rows.map((r) => r.id));
}

/** Where entries moved after their runs (step, status, next run, what they wait for), in one statement. */
export async function saveEntries(
  sql: Db,
  entries: readonly (Pick<
    EntryRow,
    'id' | 'step' | 'status' | 'exit_reason' | 'next_run_at' | 'seq' | 'waiting_for'
  > & { since: Date })[],
): Promise<void> {
  if (entries.length === 0) return;
  await sql`
    update journey_entries e set step = r.step, status = r.status, exit_reason = r.exit_reason,
      next_run_at = r.next_run_at, seq = r.seq, waiting_for = r.waiting_for, since = r.since,
      exited_at = case when r.status = 'active' then null else r.since end
    from jsonb_to_recordset(${JSON.stringify(entries)}::text::jsonb) as r(
      id bigint, step text, status text, exit_reason text, next_run_at timestamptz, seq int,
      waiting_for text, since timestamptz)
    where e.id = r.id`;
}

export interface StepRun {
  entry_id: number;
  seq: number;
  journey_id: number;
  version_id: number;
  step: string;
  outcome: string | null;
  message_id: number | null;
  at: Date;
}

/** Records step runs; the primary key (entry, seq) refuses a second run of the same step. */
export async function insertStepRuns(sql: Db, runs: readonly StepRun[]): Promise<void> {
  if (runs.length === 0) return;
  await sql`
    insert into journey_step_runs (entry_id, seq, journey_id, version_id, step, outcome, message_id, at)
    select * from jsonb_to_recordset(${JSON.stringify(runs)}::text::jsonb) as r(
      entry_id bigint, seq int, journey_id bigint, version_id bigint, step text, outcome text,
      message_id bigint, at timestamptz)`;
}

/** The live entries of these customers waiting for one of these events (locked, in id order). */
export async function waitingEntries(
  sql: Db,
  customerIds: readonly number[],
  keys: readonly string[],
): Promise<(EntryRow & { journey_status: string })[]> {
  if (customerIds.length === 0 || keys.length === 0) return [];
  return sql<(EntryRow & { journey_status: string })[]>`
    select e.*, j.status as journey_status
    from journey_entries e join journeys j on j.id = e.journey_id
    where e.customer_id = any(${customerIds as number[]}::bigint[]) and e.status = 'active'
      and e.waiting_for = any(${keys as string[]}::text[])
    order by e.id for update of e`;
}

/** Moves a waiting entry on at once (its event came): `step` is due now under the next seq. */
export async function wakeEntry(sql: Db, id: number, seq: number, now: Date): Promise<boolean> {
  const rows = await sql`
    update journey_entries set next_run_at = ${now}, waiting_for = null
    where id = ${id} and seq = ${seq} and status = 'active' returning id`;
  return rows.length > 0;
}

/**
 * Goal: ends the live entries of these (version, customer) pairs at once, wherever they are
 * (a wait included), counting the revenue of the purchase that reached it. Returns those ended.
 */
export async function reachGoal(
  sql: Db,
  pairs: readonly { version_id: number; customer_id: number; revenue: number | null }[],
  now: Date,
): Promise<{ id: number; journey_id: number; customer_id: number; step: string | null }[]> {
  if (pairs.length === 0) return [];
  return sql<{ id: number; journey_id: number; customer_id: number; step: string | null }[]>`
    update journey_entries e set status = 'goal', exit_reason = 'goal', exited_at = ${now},
      next_run_at = null, waiting_for = null, goal_revenue = r.revenue
    from (
      select distinct on (version_id, customer_id) * from jsonb_to_recordset(${JSON.stringify(pairs)}::text::jsonb)
        as x(version_id bigint, customer_id bigint, revenue numeric)
    ) r
    where e.version_id = r.version_id and e.customer_id = r.customer_id and e.status = 'active'
    returning e.id, e.journey_id, e.customer_id, e.step`;
}

/** Ends every live entry of a journey (archived, deleted). */
export async function endEntriesOfJourney(sql: Db, journeyId: number, reason: string): Promise<number> {
  const rows = await sql`
    update journey_entries set status = 'exited', exit_reason = ${reason}, exited_at = now(),
      next_run_at = null, waiting_for = null
    where journey_id = ${journeyId} and status = 'active' returning id`;
  return rows.length;
}

/** Live entries with a due time, after `afterId` (keyset): of one journey, or overdue by `idleSeconds`. */
export async function dueEntries(
  sql: Db,
  input: { afterId: number; limit: number; journeyId?: number; overdueSeconds?: number },
): Promise<{ id: number; seq: number; next_run_at: Date }[]> {
  return sql<{ id: number; seq: number; next_run_at: Date }[]>`
    select e.id, e.seq, e.next_run_at from journey_entries e join journeys j on j.id = e.journey_id
    where e.status = 'active' and e.next_run_at is not null and j.status = 'active' and e.id > ${input.afterId}
      ${input.journeyId !== undefined ? sql`and e.journey_id = ${input.journeyId}` : sql``}
      ${
        input.overdueSeconds !== undefined
          ? sql`and e.next_run_at < now() - make_interval(secs => ${input.overdueSeconds})`
          : sql``
      }
    order by e.id limit ${input.limit}`;
}

/** A customer's entries, newest first, with their journey's name and version number. */
export async function customerEntries(sql: Db, customerId: number) {
  return sql<(EntryRow & { journey_name: string; version: number })[]>`
    select e.*, j.name as journey_name, v.version
    from journey_entries e join journeys j on j.id = e.journey_id join journey_versions v on v.id = e.version_id
    where e.customer_id = ${customerId}
    order by e.entered_at desc, e.id desc limit 200`;
}

/** Journey messages still queued whose job may be lost (idle for `idleSeconds`), keyset by id. */
export async function unsentJourneyMessages(
  sql: Db,
  input: { afterId: number; limit: number; idleSeconds: number },
): Promise<{ id: number; send_at: Date | null }[]> {
  return sql<{ id: number; send_at: Date | null }[]>`
    select id, send_at from messages
    where journey_id is not null and status in ('queued', 'sending') and id > ${input.afterId}
      and greatest(updated_at, coalesce(enqueued_at, updated_at)) < now() - make_interval(secs => ${input.idleSeconds})
    order by id limit ${input.limit}`;
}

/** A journey ledger row to write: one per send_email step run. */
export interface JourneyMessageRow {
  customer_id: number;
  template_id: number;
  template_version: number | null;
  offer_ids: number[];
  held_out_offer_ids: number[];
  /** The customer's cell when the learning ranker decided the offers. */
  ranker_cell: string | null;
  status: string;
  suppressed_reason: string | null;
  send_at: Date;
  journey_id: number;
  journey_version_id: number;
  journey_entry_id: number;
  journey_step: string;
}

/**
 * The ledger rows of send_email step runs (at most one per entry per call), in one statement:
 * the send jobs and the sender do the rest. Returned by entry.
 */
export async function insertJourneyMessages(
  sql: Db,
  rows: readonly JourneyMessageRow[],
): Promise<Map<number, { id: number; status: string; send_at: Date }>> {
  if (rows.length === 0) return new Map();
  const inserted = await sql<{ id: number; status: string; send_at: Date; journey_entry_id: number }[]>`
    insert into messages (customer_id, template_id, template_version, offer_ids, held_out_offer_ids, ranker_cell,
      status, suppressed_reason, send_at, journey_id, journey_version_id, journey_entry_id, journey_step)
    select r.customer_id, r.template_id, r.template_version,
      array(select jsonb_array_elements_text(r.offer_ids)::bigint),
      array(select jsonb_array_elements_text(r.held_out_offer_ids)::bigint),
      r.ranker_cell, r.status, r.suppressed_reason, r.send_at, r.journey_id, r.journey_version_id,
      r.journey_entry_id, r.journey_step
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
      customer_id bigint, template_id bigint, template_version int, offer_ids jsonb, held_out_offer_ids jsonb,
      ranker_cell text, status text, suppressed_reason text, send_at timestamptz, journey_id bigint,
      journey_version_id bigint, journey_entry_id bigint, journey_step text)
    returning id, status, send_at, journey_entry_id`;
  return new Map(
    inserted.map((r) => [r.journey_entry_id, { id: r.id, status: r.status, send_at: r.send_at }]),
  );
}

/** An update_attribute step: sets (or, with null, removes) one free attribute of the customer. */
export async function setCustomerAttribute(sql: Db, customerId: number, key: string, value: unknown) {
  await sql`
    update customers set
      attributes = case when ${sql.json(value as never)}::jsonb = 'null'::jsonb then attributes - ${key}
        else attributes || jsonb_build_object(${key}::text, ${sql.json(value as never)}::jsonb) end,
      updated_at = now()
    where id = ${customerId}`;
}

/**
 * A webhook step: one delivery to the endpoint, written in the step's transaction (the webhook
 * worker polls deliveries), shaped like every other delivery, unique per step run. False when
 * the endpoint no longer exists.
 */
export async function insertJourneyWebhook(
  sql: Db,
  input: {
    endpoint_id: number;
    customer_id: number;
    msg_id: string;
    at: Date;
    data: Record<string, unknown>;
  },
): Promise<boolean> {
  const rows = await sql<{ id: number }[]>`
    insert into webhook_deliveries (endpoint_id, event, customer_id, msg_id, payload)
    select w.id, 'journey.step', ${input.customer_id}, ${input.msg_id},
      jsonb_build_object('type', 'journey.step', 'timestamp', ${input.at.toISOString()}::text,
        'data', ${sql.json(input.data as never)}::jsonb)
    from webhook_endpoints w where w.id = ${input.endpoint_id} and w.deleted_at is null
    on conflict (endpoint_id, msg_id) do nothing
    returning id`;
  // Nothing written: the endpoint was deleted since the journey was saved.
  if (rows.length === 0) return false;
  // Behind an older untried delivery of the customer, as every delivery is (the poll skips it).
  await sql`select webhook_hold(${rows.map((r) => r.id)}::bigint[], ${input.customer_id}::bigint)`;
  return true;
}

/**
 * Customers whose date attribute (plus `offsetDays`) is today in their own timezone (UTC when
 * unknown) and whose local hour has reached `atLocalHour`, after `afterId` (keyset). Yearly:
 * the month and day match (29 February falls on the 28th in other years). `occurrence` is the
 * date being celebrated this time (the local day minus the offset): the entry key is made of
 * it, so a customer enters once per occurrence however often the scan runs. Customers who
 * already entered the journey for this occurrence are left out here, so the scans of the rest
 * of the day read only who is still to enter; erased customers too. Values that are not dates
 * are ignored rather than failing the scan.
 */
export async function dateEntryCandidates(
  sql: Db,
  input: {
    journeyId: number;
    attribute: string;
    offsetDays: number;
    atLocalHour: number;
    yearly: boolean;
    now: Date;
    afterId: number;
    limit: number;
  },
): Promise<{ customer_id: number; value: string; occurrence: string }[]> {
  return sql<{ customer_id: number; value: string; occurrence: string }[]>`
    select id as customer_id, left(v, 10) as value, to_char(occurrence, 'YYYY-MM-DD') as occurrence
    from (
      select c.id, c.attributes ->> ${input.attribute} as v,
        (${input.now}::timestamptz at time zone coalesce(tz.name, 'UTC')) as local_ts
      from customers c
      left join pg_timezone_names tz on tz.name = c.timezone
      where c.erased_at is null and c.id > ${input.afterId} and c.attributes ? ${input.attribute}
    ) x
    cross join lateral (select x.local_ts::date - ${input.offsetDays}::int as occurrence) o
    where extract(hour from local_ts) >= ${input.atLocalHour}
      and v ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'
      and case when ${input.yearly}::boolean then
          substr(v, 6, 5) = to_char(occurrence, 'MM-DD')
          or (substr(v, 6, 5) = '02-29' and to_char(occurrence, 'MM-DD') = '02-28'
            and extract(day from (date_trunc('year', occurrence) + interval '2 months - 1 day')) = 28)
        else left(v, 10) = to_char(occurrence, 'YYYY-MM-DD') end
      -- The entry key the scan writes (date-entry.ts): found by the entries' unique index.
      and not exists (select 1 from journey_entries e
        where e.journey_id = ${input.journeyId} and e.customer_id = x.id
          and e.entry_key = ${`date:${input.attribute}:`} || to_char(occurrence, 'YYYY-MM-DD'))
    order by id limit ${input.limit}`;
}
