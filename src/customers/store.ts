import type { Db, Fragment } from '../db/sql.js';
import type { ProfileColumn } from './schema.js';

export interface CustomerRow {
  id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  locale: string | null;
  timezone: string | null;
  birth_date: Date | null;
  address: Record<string, unknown>;
  family: Record<string, unknown>[];
  occupation: string | null;
  income_band: string | null;
  education: string | null;
  preferences: Record<string, unknown>;
  preferred_categories: string[];
  hobbies: string[];
  social_handles: Record<string, string>;
  attributes: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  erased_at: Date | null;
}

/**
 * Rows as json_to_recordset reads them: the whole batch travels as one JSON text parameter
 * (json, not jsonb: it is read once, so the cheaper parser wins).
 */
const recordset = (db: Db, json: string) => db`
  json_to_recordset(${json}::text::json) as r(
    external_id text, email text, first_name text, last_name text, locale text, timezone text,
    birth_date date, address jsonb, family jsonb, occupation text, income_band text, education text,
    preferences jsonb, preferred_categories text[], hobbies text[], social_handles jsonb, attributes jsonb)`;

/** Joins fragments with commas (postgres.js nests fragments but has no join helper). */
const commaJoin = (db: Db, parts: Fragment[]): Fragment => parts.reduce((acc, part) => db`${acc}, ${part}`);

/** The SET clause for the profile columns a client sent; attributes merge, a null value removes a key. */
function setClause(db: Db, columns: readonly ProfileColumn[], source: 'excluded' | 'r') {
  const src = db(source);
  const parts = columns.map((column): Fragment => {
    if (column === 'attributes')
      return db`attributes = jsonb_strip_nulls(customers.attributes || coalesce(${src}.attributes, '{}'))`;
    if (DEFAULTS[column]) return db`${db(column)} = coalesce(${src}.${db(column)}, ${DEFAULTS[column]})`;
    return db`${db(column)} = ${src}.${db(column)}`;
  });
  return commaJoin(db, [...parts, db`updated_at = now()`]);
}

// Columns that are never null: an explicit null from the client empties them.
const DEFAULTS: Partial<Record<ProfileColumn, string>> = {
  address: '{}',
  family: '[]',
  preferences: '{}',
  preferred_categories: '{}',
  hobbies: '{}',
  social_handles: '{}',
};

/**
 * Upserts rows sharing the same set of present columns in one statement; `created` tells an
 * insert (xmax = 0) from an update. Erased customers are never revived (no row comes back).
 */
export function upsertCustomerRows(db: Db, json: string, columns: readonly ProfileColumn[]) {
  const update = setClause(db, columns, 'excluded');
  return db<{ id: number; external_id: string; created: boolean }[]>`
    insert into customers (
      external_id, email, first_name, last_name, locale, timezone, birth_date, address, family,
      occupation, income_band, education, preferences, preferred_categories, hobbies,
      social_handles, attributes)
    select r.external_id, r.email, r.first_name, r.last_name, r.locale, r.timezone, r.birth_date,
      coalesce(r.address, '{}'), coalesce(r.family, '[]'), r.occupation, r.income_band, r.education,
      coalesce(r.preferences, '{}'), coalesce(r.preferred_categories, '{}'), coalesce(r.hobbies, '{}'),
      coalesce(r.social_handles, '{}'), coalesce(r.attributes, '{}')
    from ${recordset(db, json)}
    on conflict (external_id) do update set ${update}
    where customers.erased_at is null
    returning id, external_id, (xmax = 0) as created`;
}

/** New rows keep null attribute values from the insert; removes them (rare: nulls mean "unset"). */
export function stripNullAttributes(db: Db, ids: number[]) {
  return db`update customers set attributes = jsonb_strip_nulls(attributes) where id = any(${ids})`;
}

/** Which of these external ids belong to erased customers. */
export async function erasedExternalIds(db: Db, externalIds: string[]): Promise<Set<string>> {
  const rows = await db<{ external_id: string }[]>`
    select external_id from customers where external_id = any(${externalIds}) and erased_at is not null`;
  return new Set(rows.map((r) => r.external_id));
}

/** One customer by id. */
export async function selectCustomer(db: Db, id: number): Promise<CustomerRow | undefined> {
  const [row] = await db<CustomerRow[]>`select * from customers where id = ${id}`;
  return row;
}

/** Customers by id, for the upsert answers. */
export function selectCustomers(db: Db, ids: number[]) {
  return db<CustomerRow[]>`select * from customers where id = any(${ids}) order by id`;
}

/** Locks one customer for a change; says whether it exists and is erased. */
export async function lockCustomer(db: Db, id: number): Promise<{ id: number; erased: boolean } | undefined> {
  const [row] = await db<{ id: number; erased: boolean }[]>`
    select id, erased_at is not null as erased from customers where id = ${id} for update`;
  return row;
}

/** Whether a customer exists, and whether it was erased (for sub-resources). */
export async function customerState(db: Db, id: number): Promise<{ erased: boolean } | undefined> {
  const [row] = await db<{ erased: boolean }[]>`
    select erased_at is not null as erased from customers where id = ${id}`;
  return row;
}

/** Applies a PATCH: only the columns the client sent. */
export async function patchCustomerRow(
  db: Db,
  id: number,
  json: string,
  externalId: string | undefined,
  columns: readonly ProfileColumn[],
): Promise<CustomerRow | undefined> {
  const parts = [setClause(db, columns, 'r')];
  if (externalId !== undefined) parts.push(db`external_id = ${externalId}`);
  const [row] = await db<CustomerRow[]>`
    update customers set ${commaJoin(db, parts)}
    from jsonb_to_record(${json}::text::jsonb) as r(
      email text, first_name text, last_name text, locale text, timezone text,
      birth_date date, address jsonb, family jsonb, occupation text, income_band text, education text,
      preferences jsonb, preferred_categories text[], hobbies text[], social_handles jsonb, attributes jsonb)
    where customers.id = ${id} and customers.erased_at is null
    returning customers.*`;
  return row;
}

/** A page of customers in id order, optionally filtered by email (any case) and last update. */
export function listCustomerRows(
  db: Db,
  filter: { afterId: number; limit: number; email?: string | undefined; updatedSince?: string | undefined },
) {
  return db<CustomerRow[]>`
    select * from customers
    where id > ${filter.afterId}
      ${filter.email !== undefined ? db`and lower(email) = lower(${filter.email})` : db``}
      ${filter.updatedSince !== undefined ? db`and updated_at >= ${filter.updatedSince}::timestamptz` : db``}
    order by id
    limit ${filter.limit + 1}`;
}

export interface AttributeRow {
  key: string;
  type: 'string' | 'number' | 'boolean' | 'date' | 'string_array';
  description: string | null;
  sensitive: boolean;
  category: string | null;
  purpose: string | null;
  created_at: Date;
}

/** The whole attribute registry (small: tens of keys). */
export function selectAttributes(db: Db) {
  return db<AttributeRow[]>`select * from attributes order by key`;
}

/** Declares an attribute; undefined when the key already exists. */
export async function insertAttribute(
  db: Db,
  input: Omit<AttributeRow, 'created_at'>,
): Promise<AttributeRow | undefined> {
  const [row] = await db<AttributeRow[]>`
    insert into attributes (key, type, description, sensitive, category, purpose)
    values (${input.key}, ${input.type}, ${input.description}, ${input.sensitive}, ${input.category},
      ${input.purpose})
    on conflict (key) do nothing
    returning *`;
  return row;
}

// One attribute's row, locked for an edit of the registry.
export async function selectAttributeForUpdate(db: Db, key: string): Promise<AttributeRow | undefined> {
  const [row] = await db<AttributeRow[]>`select * from attributes where key = ${key} for update`;
  return row;
}

// Writes an attribute's description and classification (its key and type never change).
export async function updateAttribute(
  db: Db,
  row: Pick<AttributeRow, 'key' | 'description' | 'sensitive' | 'category' | 'purpose'>,
): Promise<AttributeRow> {
  const [updated] = await db<AttributeRow[]>`
    update attributes set description = ${row.description}, sensitive = ${row.sensitive},
      category = ${row.category}, purpose = ${row.purpose}
    where key = ${row.key}
    returning *`;
  return updated!;
}

export interface ConsentRow {
  id: number;
  customer_id: number;
  purpose: string;
  granted: boolean;
  source: string;
  text_version: string | null;
  ip: string | null;
  at: Date;
}

/** Appends one consent decision. */
export async function insertConsent(
  db: Db,
  input: Omit<ConsentRow, 'id' | 'at'> & { at: Date },
): Promise<ConsentRow> {
  const [row] = await db<ConsentRow[]>`
    insert into consents (customer_id, purpose, granted, source, text_version, ip, at)
    values (${input.customer_id}, ${input.purpose}, ${input.granted}, ${input.source},
      ${input.text_version}, ${input.ip}, ${input.at})
    returning *`;
  return row!;
}

/** Appends decisions only where they change the current (latest) state of that purpose. */
export function insertChangedConsents(db: Db, json: string, source: string) {
  return db`
    insert into consents (customer_id, purpose, granted, source)
    select r.customer_id, r.purpose, r.granted, ${source}
    from jsonb_to_recordset(${json}::text::jsonb) as r(customer_id bigint, purpose text, granted boolean)
    where (
      select c.granted from consents c
      where c.customer_id = r.customer_id and c.purpose = r.purpose
      order by c.at desc, c.id desc limit 1
    ) is distinct from r.granted`;
}

/** A customer's whole consent history, newest first. */
export function selectConsentHistory(db: Db, customerId: number) {
  return db<ConsentRow[]>`
    select * from consents where customer_id = ${customerId} order by at desc, id desc`;
}

/** The latest decision per (customer, purpose). */
export function selectLatestConsents(db: Db, customerIds: number[]) {
  return db<ConsentRow[]>`
    select distinct on (customer_id, purpose) *
    from consents where customer_id = any(${customerIds})
    order by customer_id, purpose, at desc, id desc`;
}

export interface ContactEventRow {
  id: number;
  customer_id: number;
  kind: string;
  channel: string | null;
  text: string | null;
  author: string | null;
  message_id: number | null;
  campaign_id: number | null;
  trigger_id: number | null;
  offer_id: number | null;
  purchase_id: number | null;
  machine: boolean;
  data: Record<string, unknown>;
  at: Date;
}

/**
 * Appends contact events in one statement. A duplicate of a unique event (the conversion of a
 * purchase already attributed) is skipped, so recording is idempotent.
 */
export function insertContactEvents(db: Db, json: string) {
  return db<ContactEventRow[]>`
    insert into contact_events (customer_id, kind, channel, text, author, message_id, campaign_id,
      trigger_id, offer_id, purchase_id, machine, data, at)
    select r.customer_id, r.kind, r.channel, r.text, r.author, r.message_id, r.campaign_id,
      r.trigger_id, r.offer_id, r.purchase_id, coalesce(r.machine, false), coalesce(r.data, '{}'),
      coalesce(r.at, now())
    from jsonb_to_recordset(${json}::text::jsonb) as r(customer_id bigint, kind text, channel text, text text,
      author text, message_id bigint, campaign_id bigint, trigger_id bigint, offer_id bigint,
      purchase_id bigint, machine boolean, data jsonb, at timestamptz)
    on conflict do nothing
    returning *`;
}

/** The event recorded under a client's idempotency key (uses contact_events_client_ref_idx). */
export async function selectEventByClientRef(
  db: Db,
  customerId: number,
  clientRef: string,
): Promise<ContactEventRow | undefined> {
  const [row] = await db<ContactEventRow[]>`
    select * from contact_events
    where customer_id = ${customerId} and data ? 'client_ref' and data ->> 'client_ref' = ${clientRef}`;
  return row;
}

/**
 * Where a timeline page starts: after the entry at `at` with this `id`, read from contact_events
 * (`events`), from purchases, or from custom events (`custom`, the events table): their ids are
 * separate sequences, so the source is part of the position.
 */
export type TimelinePosition = { at: string; id: number; source: 'custom' | 'events' | 'purchases' };

/** The timeline's sources in the order they come at one instant (the `order by … source`). */
const SOURCES: readonly TimelinePosition['source'][] = ['custom', 'events', 'purchases'];

/**
 * A page of a customer's contact history, newest first: contact_events, the customer's
 * purchases (read from their own table as `purchase` entries) and custom events (read from the
 * events table as `event` entries), none copied into contact_events (see docs/architecture.md),
 * keyset on (at, source, id). At one instant, custom events come first, then contact events,
 * then purchases, so a conversion shows above the purchase it records. Each side is read over
 * its customer index and cut to the page before they are merged.
 */
export function selectTimeline(
  db: Db,
  input: {
    customerId: number;
    limit: number;
    before?: TimelinePosition | undefined;
    kinds?: string[] | undefined;
  },
) {
  const { before, kinds } = input;
  const withPurchases = !kinds || kinds.includes('purchase');
  const withCustom = !kinds || kinds.includes('event');
  // After the cursor, for one source: the same source by (at, id); a source shown before it at
  // that instant strictly earlier; a source shown after it from that instant on.
  const after = (source: TimelinePosition['source'], at: 'at' | 'purchased_at') => {
    if (!before) return db``;
    if (before.source === source) return db`and (${db(at)}, id) < (${before.at}::timestamptz, ${before.id})`;
    return SOURCES.indexOf(source) < SOURCES.indexOf(before.source)
      ? db`and ${db(at)} < ${before.at}::timestamptz`
      : db`and ${db(at)} <= ${before.at}::timestamptz`;
  };
  return db<(ContactEventRow & { at_key: string; source: TimelinePosition['source'] })[]>`
    select *, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at_key from (
      (select id, customer_id, kind, channel, text, author, message_id, campaign_id, trigger_id, offer_id,
          purchase_id, machine, data, at, 'events' as source
        from contact_events
        -- Copies of custom events written before they were read from their own table.
        where customer_id = ${input.customerId} and kind <> 'event'
          ${kinds ? db`and kind = any(${kinds})` : db``} ${after('events', 'at')}
        order by at desc, id desc
        limit ${input.limit + 1})
      ${
        withPurchases
          ? db`union all
      (select id, customer_id, 'purchase', null, null, null, null, null, null, null, id, false,
          jsonb_build_object('order_ref', order_ref, 'sku', sku, 'category', category, 'quantity', quantity,
            'kind', kind, 'amount', amount, 'currency', currency, 'source', source),
          purchased_at, 'purchases'
        from purchases
        where customer_id = ${input.customerId} ${after('purchases', 'purchased_at')}
        order by purchased_at desc, id desc
        limit ${input.limit + 1})`
          : db``
      }
      ${
        withCustom
          ? db`union all
      (select id, customer_id, 'event', null, null, null, null, null, null, null, null, false,
          jsonb_build_object('name', name, 'properties', properties, 'event_id', id),
          at, 'custom'
        from events
        where customer_id = ${input.customerId} ${after('custom', 'at')}
        order by at desc, id desc
        limit ${input.limit + 1})`
          : db``
      }
    ) entries
    order by at desc, source, id desc
    limit ${input.limit + 1}`;
}
