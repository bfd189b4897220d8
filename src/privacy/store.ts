import type { Db } from '../db/sql.js';
import { lockedInIdOrder } from '../messages/ledger.js';
import { ERASED_SOURCE, erasedExternalId, FACT_DATA_KEYS } from './personal-data.js';

const FACT_KEYS = [...FACT_DATA_KEYS];

// Sensitive attributes of the registry with the consent purpose each needs (the guard's input).
export function selectSensitiveAttributes(db: Db) {
  return db<{ key: string; category: string | null; purpose: string }[]>`
    select key, category, purpose from attributes where sensitive order by key`;
}

// Every live rule that targets customers: segments' rules, offers' eligibility and score,
// triggers' filters (what the targeting guard checked when each was saved).
export function selectLiveRules(db: Db) {
  return db<
    { kind: 'segment' | 'offer' | 'trigger'; id: number; name: string; field: string; rule: unknown }[]
  >`
    select 'segment' as kind, id, name, 'rule' as field, rule from segments where deleted_at is null
    union all
    select 'offer', id, name, 'eligibility', eligibility from offers
      where deleted_at is null and eligibility is not null
    union all
    select 'offer', id, name, 'score', score from offers where deleted_at is null and score is not null
    union all
    select 'trigger', id, name, 'filter', filter from triggers where deleted_at is null and filter is not null
    order by kind, id`;
}

// Locks a customer for erasure and returns the address to suppress.
export async function lockForErasure(
  db: Db,
  id: number,
): Promise<{ email: string | null; erased: boolean } | undefined> {
  const [row] = await db<{ email: string | null; erased: boolean }[]>`
    select email, erased_at is not null as erased from customers where id = ${id} for update`;
  return row;
}

// Clears every personal column of the customer row; the row stays so reports still add up.
export async function clearCustomerRow(db: Db, id: number, at: Date): Promise<void> {
  await db`
    update customers set
      external_id = ${erasedExternalId(id)}, email = null, first_name = null, last_name = null,
      locale = null, timezone = null, birth_date = null, address = '{}', family = '[]',
      occupation = null, income_band = null, education = null, preferences = '{}',
      preferred_categories = '{}', hobbies = '{}', social_handles = '{}', attributes = '{}',
      updated_at = ${at}, erased_at = coalesce(erased_at, ${at})
    where id = ${id}`;
}

// Forgets where and how consents were given (the IP, the free text of source and text version:
// "phone call with …"); the decisions themselves, purpose, grant and time, stay as proof.
export async function clearConsentDetails(db: Db, id: number): Promise<void> {
  await db`
    update consents set ip = null, source = ${ERASED_SOURCE}, text_version = null
    where customer_id = ${id} and (ip is not null or source <> ${ERASED_SOURCE} or text_version is not null)`;
}

// Leads made for social handles (`social:<channel>:<handle>`) that the customer's profile now
// holds: messages that arrived before the handle was on the profile sit on them.
export async function selectLinkedLeads(db: Db, id: number): Promise<number[]> {
  const rows = await db<{ id: number }[]>`
    select l.id from customers c
    join customers l on l.id <> c.id and l.external_id like 'social:%' and l.erased_at is null
      and social_handle_keys(l.social_handles) && social_handle_keys(c.social_handles)
    where c.id = ${id} and c.social_handles <> '{}'
    order by l.id`;
  return rows.map((r) => r.id);
}

// Drops the customers' events from trigger events not yet handed to the queue (they carry
// what the person wrote); rows left empty go.
export async function dropOutboxEvents(db: Db, ids: number[]): Promise<void> {
  await db`
    update trigger_outbox o set events = coalesce((
      select jsonb_agg(x.e order by x.n) from jsonb_array_elements(o.events) with ordinality as x(e, n)
      where coalesce((x.e ->> 'customer_id')::bigint, 0) <> all(${ids}::bigint[])), '[]'::jsonb)
    where exists (select 1 from jsonb_array_elements(o.events) e
      where (e ->> 'customer_id')::bigint = any(${ids}::bigint[]))`;
  await db`delete from trigger_outbox where events = '[]'::jsonb`;
}

// Strips free text, authors and non-fact data from a customer's contact history.
export async function pseudonymizeCustomerEvents(db: Db, id: number): Promise<number> {
  const rows = await db`
    update contact_events set text = null, author = null,
      data = coalesce((select jsonb_object_agg(k, v) from jsonb_each(data) as e(k, v) where k = any(${FACT_KEYS}::text[])), '{}')
    where customer_id = ${id}
      and (text is not null or author is not null or exists (
        select 1 from jsonb_object_keys(data) k where k <> all(${FACT_KEYS}::text[])))
    returning id`;
  // The client keys of its interactions go with the data that carried them (migrations/0023).
  await db`delete from contact_event_keys where customer_id = ${id} and scope = 'client_ref'`;
  return rows.length;
}

// Clears SMTP replies and errors of a customer's messages (a reply may quote the address).
export async function clearMessageReplies(db: Db, id: number): Promise<void> {
  await db`
    update messages set error = null, smtp_reply = null
    where customer_id = ${id} and (error is not null or smtp_reply is not null)`;
}

// Cancels the customer's messages not yet claimed by a sender; returns what locates their send
// jobs. A `sending` row is left to its sender, which looks again right before SMTP and either
// stops (the row becomes cancelled/erased) or sends and records it: the ledger says what went out.
export function cancelCustomerMessages(db: Db, id: number) {
  return db<{ id: number; campaign_id: number | null; throttle_per_second: number | null }[]>`
    update messages m set status = 'cancelled', suppressed_reason = 'erased', updated_at = now()
    from ${lockedInIdOrder(db, db`customer_id = ${id} and status = 'queued'`)}
    where m.id = locked.id
    returning m.id, m.campaign_id,
      (select c.throttle_per_second from campaigns c where c.id = m.campaign_id) as throttle_per_second`;
}

// How many of a customer's rows a live sender holds (`sending`, touched within the lease).
export async function countInFlightSends(db: Db, id: number, leaseSeconds: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    select count(*)::int as n from messages
    where customer_id = ${id} and status = 'sending'
      and updated_at > now() - make_interval(secs => ${leaseSeconds})`;
  return row?.n ?? 0;
}

// Keeps a keyed hash of the address so that the person is never mailed again.
export async function insertSuppressionHash(db: Db, hash: Buffer, reason: string): Promise<void> {
  await db`
    insert into suppressions (email_hash, reason, source) values (${hash}, ${reason}, 'erasure')
    on conflict (email_hash) do nothing`;
}

// Everything held on one person, table by table (the export).
export async function selectPersonalData(db: Db, id: number) {
  const [customer] = await db<Record<string, unknown>[]>`select * from customers where id = ${id}`;
  if (!customer) return undefined;
  // Derived from the names, email and external id above (folded for search), and recomputed
  // by PostgreSQL whenever they change, erasure included: nothing of its own to export.
  delete customer.search_text;
  const [consents, events, purchases, messages, impressions, access] = await Promise.all([
    db<Record<string, unknown>[]>`
      select id, purpose, granted, source, text_version, host(ip) as ip, at
      from consents where customer_id = ${id} order by at, id`,
    db<Record<string, unknown>[]>`
      select * from (
        select id, kind, channel, text, author, message_id, campaign_id, trigger_id, offer_id,
          purchase_id, machine, data, at
        from contact_events where customer_id = ${id} and kind <> 'event'
        -- Custom events are on the history from their own table (see selectTimeline).
        union all
        select id, 'event', null, null, null, null, null, null, null, null, false,
          jsonb_build_object('name', name, 'properties', properties, 'event_id', id), at
        from events where customer_id = ${id}
      ) history order by at, id`,
    db<Record<string, unknown>[]>`
      select id, external_line_id, order_ref, sku, category, quantity, kind, amount, currency,
        purchased_at, source, created_at
      from purchases where customer_id = ${id} order by purchased_at, id`,
    db<Record<string, unknown>[]>`
      select id, campaign_id, trigger_id, variant, template_id, template_version, offer_ids,
        status, suppressed_reason, smtp_message_id, attempts, error, smtp_reply, send_at,
        sent_at, created_at
      from messages where customer_id = ${id} order by id`,
    db<Record<string, unknown>[]>`
      select offer_id, message_id, campaign_id, trigger_id, at
      from offer_impressions where customer_id = ${id} order by at, id`,
    db<Record<string, unknown>[]>`
      select at, actor, action, entity, entity_id from audit_log
      where customer_id = ${id} order by at, id limit 10000`,
  ]);
  return { customer, consents, events, purchases, messages, impressions, access };
}

export interface AuditRow {
  id: number;
  at: Date;
  api_key_id: number | null;
  actor: string | null;
  action: string;
  entity: string;
  entity_id: string | null;
  customer_id: number | null;
  request_id: string | null;
  data: Record<string, unknown>;
}

// A page of the audit log, newest first (keyset on id), with optional filters.
export function selectAuditPage(
  db: Db,
  filter: {
    beforeId?: number | undefined;
    limit: number;
    customerId?: number | undefined;
    entity?: string | undefined;
    action?: string | undefined;
    since?: string | undefined;
  },
) {
  return db<AuditRow[]>`
    select * from audit_log
    where true
      ${filter.beforeId !== undefined ? db`and id < ${filter.beforeId}` : db``}
      ${filter.customerId !== undefined ? db`and customer_id = ${filter.customerId}` : db``}
      ${filter.entity !== undefined ? db`and entity = ${filter.entity}` : db``}
      ${filter.action !== undefined ? db`and action = ${filter.action}` : db``}
      ${filter.since !== undefined ? db`and at >= ${filter.since}::timestamptz` : db``}
    order by id desc
    limit ${filter.limit + 1}`;
}

// Retention: strips text and non-fact data from contact events older than the cutoff (a batch).
export async function pseudonymizeOldEvents(db: Db, cutoff: Date, limit: number): Promise<number> {
  const rows = await db`
    update contact_events e set text = null, author = null,
      data = coalesce((select jsonb_object_agg(k, v) from jsonb_each(e.data) as x(k, v) where k = any(${FACT_KEYS}::text[])), '{}')
    where e.id in (
      select id from contact_events
      where at < ${cutoff}
        and (text is not null or author is not null or exists (
          select 1 from jsonb_object_keys(data) k where k <> all(${FACT_KEYS}::text[])))
      limit ${limit}
      for update skip locked)
    returning e.id`;
  return rows.length;
}

// Retention: flags live customers with no purchase, contact or profile change since the cutoff.
export async function flagInactiveCustomers(db: Db, cutoff: Date, at: Date): Promise<number> {
  const rows = await db`
    update customers c set inactive_at = ${at}
    where c.erased_at is null and c.inactive_at is null and c.updated_at < ${cutoff}
      and not exists (select 1 from contact_events e where e.customer_id = c.id and e.at >= ${cutoff})
      and not exists (select 1 from purchases p where p.customer_id = c.id and p.purchased_at >= ${cutoff})
    returning c.id`;
  return rows.length;
}

// Retention: a customer active again (a newer event or purchase, or an update) loses the flag.
export async function unflagActiveCustomers(db: Db, cutoff: Date): Promise<number> {
  const rows = await db`
    update customers c set inactive_at = null
    where c.inactive_at is not null and (c.updated_at >= ${cutoff}
      or exists (select 1 from contact_events e where e.customer_id = c.id and e.at >= ${cutoff})
      or exists (select 1 from purchases p where p.customer_id = c.id and p.purchased_at >= ${cutoff}))
    returning c.id`;
  return rows.length;
}
