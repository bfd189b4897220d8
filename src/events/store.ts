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

export interface EventRow {
  index: number;
  message_id: string;
  customer_id: number;
  name: string;
  properties: Record<string, unknown>;
  at: string;
}

export interface WrittenEvent {
  message_id: string;
  event_id: number;
  customer_id: number;
  name: string;
  at: Date;
  created: boolean;
}

/**
 * Inserts events whose messageId is new, in one statement: the key is claimed first (a key
 * already there, from an earlier request or earlier in this batch, skips its event), then the
 * event goes in. Every row comes back, `created` or not, with the event id the key holds.
 */
export function insertEvents(db: Db, rows: readonly EventRow[]) {
  return db<WrittenEvent[]>`
    with input as (
      select distinct on (message_id) r.*, nextval('events_id_seq') as event_id
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
        index int, message_id text, customer_id bigint, name text, properties jsonb, at timestamptz)
      order by message_id, index
    ),
    claimed as (
      insert into event_keys (message_id, event_id, at)
      select message_id, event_id, at from input
      on conflict (message_id) do nothing
      returning message_id
    ),
    inserted as (
      insert into events (id, customer_id, name, properties, message_id, at)
      select i.event_id, i.customer_id, i.name, coalesce(i.properties, '{}'), i.message_id, i.at
      from input i join claimed using (message_id)
      returning id
    )
    select i.message_id, i.event_id, i.customer_id, i.name, i.at, true as created
    from input i join claimed c using (message_id)
    union all
    -- Only keys not claimed now are looked up (by their index, not a scan of every key). A key
    -- claimed by a concurrent request that committed meanwhile is not in this snapshot: such a
    -- row comes back not created, its event id unknown (null).
    select i.message_id, k.event_id, coalesce(e.customer_id, i.customer_id), i.name, coalesce(k.at, i.at), false
    from input i left join event_keys k using (message_id)
      left join events e on e.id = k.event_id and e.at = k.at
    where not exists (select 1 from claimed c where c.message_id = i.message_id)`;
}

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
