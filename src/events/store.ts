import { copyIn } from '../db/copy.js';
import type { Db } from '../db/sql.js';

// The SQL of custom events: the volume table (events), its idempotency keys (event_keys), the
// anonymous ids (customer_aliases) and the leads they create.

export interface CustomerRef {
  id: number;
  external_id: string;
  erased: boolean;
  created: boolean;
}

/**
 * The customers of these external ids, created as leads (no consent, optional email) when
 * missing. `created` tells a new lead; an erased customer comes back `erased` and is not revived.
 */
export async function ensureLeads(
  db: Db,
  rows: readonly { external_id: string; email?: string | null }[],
): Promise<Map<string, CustomerRef>> {
  if (rows.length === 0) return new Map();
  const found = await db<CustomerRef[]>`
    -- Existing customers by external_id, and leads inserted for the others.
    with input as (
      select distinct on (external_id) external_id, email
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(external_id text, email text)
    ),
    inserted as (
      -- Only the missing ones try to insert: a conflict check per existing customer costs more
      -- than the lookup (a concurrent insert still lands on the conflict clause).
      insert into customers (external_id, email)
      select external_id, email from input
      where not exists (select 1 from customers c where c.external_id = input.external_id)
      on conflict (external_id) do nothing
      returning id, external_id
    )
    select c.id, c.external_id, c.erased_at is not null as erased, false as created
    from customers c join input using (external_id)
    union all
    select id, external_id, false, true from inserted`;
  return new Map(found.map((r) => [r.external_id, r]));
}

/** The customer holding each email (lower case), the oldest when several do. */
export async function customersByEmail(db: Db, emails: readonly string[]): Promise<Map<string, CustomerRef>> {
  if (emails.length === 0) return new Map();
  const rows = await db<(CustomerRef & { email: string })[]>`
    -- Customers by lower(email) (customers_email_idx).
    select distinct on (lower(email)) id, external_id, lower(email) as email,
      erased_at is not null as erased, false as created
    from customers where lower(email) = any(${emails as string[]}::text[])
    order by lower(email), id`;
  return new Map(rows.map(({ email, ...r }) => [email, r]));
}

/** The customer each anonymous id belongs to. */
export async function selectAliases(db: Db, anonymousIds: readonly string[]): Promise<Map<string, number>> {
  if (anonymousIds.length === 0) return new Map();
  const rows = await db<{ anonymous_id: string; customer_id: number }[]>`
    select anonymous_id, customer_id from customer_aliases
    where anonymous_id = any(${anonymousIds as string[]}::text[])`;
  return new Map(rows.map((r) => [r.anonymous_id, r.customer_id]));
}

/** Records anonymous ids of customers; an id already taken keeps its customer. */
export async function insertAliases(
  db: Db,
  rows: readonly { anonymous_id: string; customer_id: number }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db`
    insert into customer_aliases (anonymous_id, customer_id)
    select anonymous_id, customer_id
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(anonymous_id text, customer_id bigint)
    on conflict (anonymous_id) do nothing`;
}

/** Renames an anonymous lead to the customer it turned out to be (an identify with a new userId). */
export async function renameCustomer(db: Db, id: number, externalId: string): Promise<void> {
  await db`update customers set external_id = ${externalId}, updated_at = now() where id = ${id}`;
}

/**
 * Moves everything an anonymous lead gathered to the identified customer, then deletes the lead:
 * events, the contact history, purchases and anonymous ids (an event's key names the event, not
 * its customer).
 */
export async function mergeLeadInto(db: Db, leadId: number, customerId: number): Promise<void> {
  await db`update events set customer_id = ${customerId} where customer_id = ${leadId}`;
  await db`update contact_events set customer_id = ${customerId} where customer_id = ${leadId}`;
  await db`update purchases set customer_id = ${customerId} where customer_id = ${leadId}`;
  await db`update customer_aliases set customer_id = ${customerId} where customer_id = ${leadId}`;
  await db`delete from customers where id = ${leadId}`;
}

/**
 * One event to record: its customer named by external id (`user_id`, resolved and created as a
 * lead by the claim) or already resolved (`customer_id`, from an email or anonymous id).
 * `properties` is JSON text, serialised once by the validation that measured it. Each
 * message_id appears once (the caller answers a repeat within a batch from its first row).
 */
export interface EventRow {
  index: number;
  message_id: string;
  user_id: string | null;
  customer_id: number | null;
  name: string;
  properties: string;
  at: string;
}

/**
 * What the claim did with a row (rows of erased customers do not come back), or a lead it
 * created (`index` null).
 */
export interface ClaimedEvent {
  index: number | null;
  event_id: number | null;
  customer_id: number;
  created: boolean;
}

/**
 * Resolves a batch of events in one statement: customers named by external id (the missing
 * ones created as leads, no consent; erased ones skipped: an erased person is never recorded
 * again), the keys already recorded (by an earlier request: the row is answered with the event
 * its key holds), and an event id, in batch order, for each new one. copyEvents then writes the
 * new keys and events. `index` in the answer is the row's position in `rows`.
 *
 * The rows go in as three parallel text arrays (unnest … with ordinality), not one JSON
 * document: PostgreSQL took 137 ms to read 10,000 rows through jsonb_to_recordset against 32 ms
 * through unnest of arrays, in the same run (bench/events.ts batches, load 7 on 2 cores).
 */
export function claimEvents(db: Db, rows: readonly EventRow[]) {
  const messageIds = new Array<string>(rows.length);
  const userIds = new Array<string | null>(rows.length);
  const customerIds = new Array<string | null>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    messageIds[i] = r.message_id;
    userIds[i] = r.user_id;
    customerIds[i] = r.customer_id === null ? null : String(r.customer_id);
  }
  return db<ClaimedEvent[]>`
    with input as (
      select (r.n - 1)::int as i, r.m, r.u, r.c::bigint as c
      from unnest(${messageIds}::text[], ${userIds as string[]}::text[], ${customerIds as string[]}::text[])
        with ordinality as r(m, u, c, n)
    ),
    wanted as (select distinct u from input where u is not null),
    known as (
      select c.id, c.external_id, c.erased_at is not null as erased
      from customers c join wanted w on c.external_id = w.u
    ),
    leads as (
      -- Only the missing ones try to insert: a conflict check per existing customer costs more
      -- than the lookup (a concurrent insert still lands on the conflict clause).
      insert into customers (external_id)
      select u from wanted w where not exists (select 1 from known k where k.external_id = w.u)
      on conflict (external_id) do nothing
      returning id, external_id
    ),
    resolved as (
      select id, external_id, erased from known
      union all
      select id, external_id, false from leads
    ),
    rows as (
      select i.i, coalesce(i.c, r.id) as customer_id, k.event_id as known_event_id,
        coalesce(e.customer_id, i.c, r.id) as known_customer_id
      from input i left join resolved r on r.external_id = i.u
        left join event_keys k on k.message_id = i.m
        left join events e on e.id = k.event_id and e.at = k.at
      where not coalesce(r.erased, false) and coalesce(i.c, r.id) is not null
    )
    -- Ids in the batch's order (nextval runs over the sorted rows): events of one instant read
    -- in that order.
    select i as index, nextval('events_id_seq') as event_id, customer_id, true as created
    from (select i, customer_id from rows where known_event_id is null order by i) new
    union all
    select i, known_event_id, known_customer_id, false from rows where known_event_id is not null
    union all
    select null, null, id, true from leads`;
}

/** A value for COPY's text format: backslash, tab, newline and carriage return escaped. */
const copyText = (value: string) =>
  /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, copyEscape) : value;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const copyEscape = (c: string) => COPY_ESCAPES[c]!;

/**
 * Writes new events and their keys with COPY: PostgreSQL inserts them a page at a time (one
 * heap write and WAL record per page, not per row). 10,000 events took about 150 ms by COPY
 * against 240 ms by INSERT … SELECT from jsonb, and their keys 100 ms against 210 ms by
 * INSERT … ON CONFLICT DO NOTHING, in the same runs. The keys go first: a key that a
 * concurrent request wrote meanwhile fails the COPY on event_keys_pkey (isEventKeyRace),
 * and the batch is taken again, then finding that key recorded.
 */
export async function copyEvents(
  db: Db,
  events: readonly { event_id: number; customer_id: number; row: EventRow }[],
): Promise<void> {
  if (events.length === 0) return;
  const keys = new Array<string>(events.length);
  const lines = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const { event_id, customer_id, row } = events[i]!;
    const messageId = copyText(row.message_id);
    keys[i] = `${messageId}\t${event_id}\t${row.at}\n`;
    lines[i] =
      `${event_id}\t${customer_id}\t${copyText(row.name)}\t${copyText(row.properties)}\t` +
      `${messageId}\t${row.at}\n`;
  }
  await db`savepoint event_keys`;
  try {
    await copyIn(db, 'copy event_keys (message_id, event_id, at) from stdin', keys.join(''));
  } catch (error) {
    // postgres.js loses a refused COPY's own error (the transaction is only known to be
    // aborted): when one of these keys is there now, a concurrent request recorded it first.
    await db`rollback to savepoint event_keys`;
    const ids = events.map((e) => e.row.message_id);
    const [raced] = await db`select 1 from event_keys where message_id = any(${ids}::text[]) limit 1`;
    throw raced ? new EventKeyRace() : error;
  }
  await copyIn(
    db,
    'copy events (id, customer_id, name, properties, message_id, at) from stdin',
    lines.join(''),
  );
}

/** A batch's new key was recorded meanwhile by a concurrent request: take the batch again. */
export class EventKeyRace extends Error {
  constructor() {
    super('a concurrent request recorded one of these events first');
  }
}

export const isEventKeyRace = (error: unknown): boolean => error instanceof EventKeyRace;

/** A customer's events, newest first (events_customer_name_at_idx serves the name filter). */
export function selectCustomerEvents(
  db: Db,
  input: {
    customerId: number;
    name?: string | undefined;
    limit: number;
    before?: { at: string; id: number } | undefined;
  },
) {
  return db<
    {
      id: number;
      customer_id: number;
      name: string;
      properties: Record<string, unknown>;
      message_id: string;
      at: Date;
      received_at: Date;
      at_key: string;
    }[]
  >`
    select id, customer_id, name, properties, message_id, at, received_at,
      to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at_key
    from events
    where customer_id = ${input.customerId}
      ${input.name ? db`and name = ${input.name}` : db``}
      ${input.before ? db`and (at, id) < (${input.before.at}::timestamptz, ${input.before.id})` : db``}
    order by at desc, id desc
    limit ${input.limit + 1}`;
}

/** Removes a customer's events and their anonymous ids (erasure: properties may describe them). */
export async function deleteCustomerEvents(db: Db, customerId: number): Promise<number> {
  const rows = await db`delete from events where customer_id = ${customerId} returning id`;
  await db`delete from customer_aliases where customer_id = ${customerId}`;
  // Webhook payloads about them keep the ids, not the external id.
  await db`update webhook_deliveries set payload = payload #- '{data,external_id}'
    where customer_id = ${customerId} and payload -> 'data' ? 'external_id'`;
  return rows.length;
}

/** The custom event that fired a trigger's message (its firing's key is `event:<id>`), if any. */
export async function triggerMessageEvent(
  db: Db,
  messageId: number,
): Promise<{ name: string; properties: Record<string, unknown>; at: string } | undefined> {
  const [row] = await db<{ name: string; properties: Record<string, unknown>; at: Date }[]>`
    select e.name, e.properties, e.at
    from trigger_firings f
    join events e on e.customer_id = f.customer_id and e.id = substring(f.event_key from 7)::bigint
    where f.message_id = ${messageId} and f.event_key like 'event:%'
    limit 1`;
  return row ? { name: row.name, properties: row.properties, at: row.at.toISOString() } : undefined;
}
