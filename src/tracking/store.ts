import type { Db } from '../db/sql.js';

export interface NewEvent {
  customer_id: number;
  kind: string;
  message_id?: number | null;
  campaign_id?: number | null;
  trigger_id?: number | null;
  offer_id?: number | null;
  purchase_id?: number | null;
  machine?: boolean;
  data?: Record<string, unknown>;
  at: Date;
  /** Unique per tracking event: a batch written again stores it once. */
  event_key?: string;
}

export interface TrackedMessage {
  id: number;
  customer_id: number;
  campaign_id: number | null;
  trigger_id: number | null;
  sent_at: Date | null;
}

export interface StoredLink {
  url: string | null;
  offer_id: number | null;
  /** A recommended product's link: the product it showed, and the feed it came from. */
  sku?: string;
  product_id?: number | null;
  feed?: string;
}

export interface TrackedMessageWithLinks extends TrackedMessage {
  /** Click targets by link index: the stored ones, or for rows without, the offers' urls. */
  links: Record<string, StoredLink>;
}

export interface ClickTarget extends TrackedMessage {
  url: string | null;
  offer_id: number | null;
}

/** Appends many contact events in one statement (the tracking buffer's flush). */
export async function insertEvents(sql: Db, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  // Only the fields an event has: an open is half the JSON of a row with every column, and the
  // database parses less (missing keys read as null; machine and data get their defaults).
  const rows = events.map((e) => {
    const row: Record<string, unknown> = { customer_id: e.customer_id, kind: e.kind, at: e.at.toISOString() };
    if (e.message_id != null) row.message_id = e.message_id;
    if (e.campaign_id != null) row.campaign_id = e.campaign_id;
    if (e.trigger_id != null) row.trigger_id = e.trigger_id;
    if (e.offer_id != null) row.offer_id = e.offer_id;
    if (e.purchase_id != null) row.purchase_id = e.purchase_id;
    if (e.machine) row.machine = true;
    if (e.data && Object.keys(e.data).length > 0) row.data = e.data;
    if (e.event_key) row.event_key = e.event_key;
    return row;
  });
  // Insert the batch from one JSON document: one parameter whatever the batch size.
  await sql`
    insert into contact_events
      (customer_id, kind, message_id, campaign_id, trigger_id, offer_id, purchase_id, machine, data, at, event_key)
    select customer_id, kind, message_id, campaign_id, trigger_id, offer_id, purchase_id,
      coalesce(machine, false), coalesce(data, '{}'::jsonb), at, event_key
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as x(
      customer_id bigint, kind text, message_id bigint, campaign_id bigint, trigger_id bigint,
      offer_id bigint, purchase_id bigint, machine boolean, data jsonb, at timestamptz, event_key uuid)
    -- A customer deleted since the request must not fail the whole batch.
    where exists (select 1 from customers c where c.id = x.customer_id)
    -- Written before (a lost reply, a replayed spool): stored once.
    on conflict (event_key, at) where event_key is not null do nothing`;
}

/**
 * Messages by id with their click targets, for the tracking routes (primary-key lookups; the
 * offers are read only for rows sent before the sender stored links).
 */
export async function findTrackedMessages(
  sql: Db,
  ids: number[],
  offerLinkBase: number,
  productLinkBase: number,
): Promise<TrackedMessageWithLinks[]> {
  // Recommended products by their position in `recommended`, each with its product's url.
  return sql<TrackedMessageWithLinks[]>`
    select m.id, m.customer_id, m.campaign_id, m.trigger_id, m.sent_at,
      case when m.links = '{}'::jsonb and cardinality(m.offer_ids) > 0 then coalesce((
        select jsonb_object_agg((${offerLinkBase}::int + u.pos - 1)::text, jsonb_build_object('url', o.url, 'offer_id', o.id))
        from unnest(m.offer_ids) with ordinality as u(offer_id, pos) join offers o on o.id = u.offer_id
      ), '{}'::jsonb) else m.links end
      || case when jsonb_typeof(m.recommended) = 'array' then coalesce((
        select jsonb_object_agg((${productLinkBase}::int + r.pos - 1)::text, jsonb_build_object(
          'url', p.url, 'offer_id', null, 'sku', r.item ->> 'sku', 'product_id', p.id, 'feed', r.item ->> 'feed'))
        from jsonb_array_elements(m.recommended) with ordinality as r(item, pos)
        join products p on p.sku = r.item ->> 'sku'
      ), '{}'::jsonb) else '{}'::jsonb end as links
    from messages m
    where m.id = any(${ids}::bigint[])`;
}

/** The highest message id so far (the last entry of the primary key's index). */
export async function highestMessageId(sql: Db): Promise<number> {
  const [row] = await sql<{ id: number }[]>`select coalesce(max(id), 0)::bigint as id from messages`;
  return row?.id ?? 0;
}

/** The message an open token names (primary-key lookup). */
export async function findMessage(sql: Db, messageId: number): Promise<TrackedMessage | null> {
  const [row] = await sql<TrackedMessage[]>`
    select id, customer_id, campaign_id, trigger_id, sent_at from messages where id = ${messageId}`;
  return row ?? null;
}

/**
 * The message a click token names and the target stored for that link index; for rows without
 * stored links, the url of the offer at that position (one statement, primary-key lookups only).
 */
export async function findClickTarget(
  sql: Db,
  messageId: number,
  linkIndex: number,
  offerPosition: number | null,
): Promise<ClickTarget | null> {
  const key = String(linkIndex);
  const position = offerPosition === null ? null : offerPosition + 1;
  const [row] = await sql<ClickTarget[]>`
    select m.id, m.customer_id, m.campaign_id, m.trigger_id, m.sent_at,
           case when m.links ? ${key} then m.links -> ${key} ->> 'url' else o.url end as url,
           case when m.links ? ${key} then (m.links -> ${key} ->> 'offer_id')::bigint else o.id end as offer_id
    from messages m
    left join offers o on o.id = m.offer_ids[${position}::int] and not (m.links ? ${key})
    where m.id = ${messageId}`;
  return row ?? null;
}

export interface Recipient {
  message_id: number;
  campaign_id: number | null;
  trigger_id: number | null;
  customer_id: number;
  erased: boolean;
  /** When the message went out (or was made): preference links expire from here. */
  sent_at: Date;
}

/** The message and customer an unsubscribe token names. */
export async function findRecipient(sql: Db, messageId: number): Promise<Recipient | null> {
  const [row] = await sql<Recipient[]>`
    select m.id as message_id, m.campaign_id, m.trigger_id, m.customer_id, c.erased_at is not null as erased,
      coalesce(m.sent_at, m.created_at) as sent_at
    from messages m join customers c on c.id = m.customer_id
    where m.id = ${messageId}`;
  return row ?? null;
}

/** The latest consent per purpose of one customer, for the given purposes or prefix. */
export async function latestConsentsOf(
  sql: Db,
  customerId: number,
  purposes: string[],
  prefix: string,
): Promise<Map<string, boolean>> {
  const rows = await sql<{ purpose: string; granted: boolean }[]>`
    select distinct on (purpose) purpose, granted
    from consents
    where customer_id = ${customerId} and (purpose = any(${purposes}::text[]) or starts_with(purpose, ${prefix}))
    order by purpose, at desc, id desc`;
  return new Map(rows.map((r) => [r.purpose, r.granted]));
}

/** Appends one consent row. */
export async function insertConsent(
  sql: Db,
  input: { customer_id: number; purpose: string; granted: boolean; source: string; at: Date },
): Promise<void> {
  await sql`
    insert into consents (customer_id, purpose, granted, source, at)
    values (${input.customer_id}, ${input.purpose}, ${input.granted}, ${input.source}, ${input.at})`;
}

/** The topics a customer can choose: the categories of live offers. */
export async function offerTopics(sql: Db): Promise<string[]> {
  const rows = await sql<{ category: string }[]>`
    select distinct category from offers
    where category is not null and deleted_at is null
    order by category`;
  return rows.map((r) => r.category);
}

/** Locks a customer's row for the transaction, so concurrent replays of one change write once. */
export async function lockCustomer(sql: Db, customerId: number): Promise<void> {
  await sql`select 1 from customers where id = ${customerId} for update`;
}

export interface BounceTarget {
  customer_id: number;
  email: string | null;
  message_id: number | null;
  campaign_id: number | null;
  trigger_id: number | null;
}

/** The recipient of a message, with the address it was sent to. */
export async function findBounceTargetByMessage(sql: Db, messageId: number): Promise<BounceTarget[]> {
  return sql<BounceTarget[]>`
    select m.customer_id, c.email, m.id as message_id, m.campaign_id, m.trigger_id
    from messages m join customers c on c.id = m.customer_id
    where m.id = ${messageId}`;
}

/** The live customers with an address, each with their latest message (the one likely bounced). */
export async function findBounceTargetsByEmail(sql: Db, email: string): Promise<BounceTarget[]> {
  return sql<BounceTarget[]>`
    select c.id as customer_id, c.email, m.id as message_id, m.campaign_id, m.trigger_id
    from customers c
    left join lateral (
      select id, campaign_id, trigger_id from messages
      where customer_id = c.id and status = 'sent'
      order by created_at desc limit 1
    ) m on true
    where lower(c.email) = lower(${email}) and c.erased_at is null`;
}

/** Soft bounces per customer since a time (the soft-bounce suppression rule). */
export async function countSoftBounces(
  sql: Db,
  customerIds: number[],
  since: Date,
): Promise<Map<number, number>> {
  const rows = await sql<{ customer_id: number; n: number }[]>`
    select customer_id, count(*)::int as n from contact_events
    where customer_id = any(${customerIds}::bigint[]) and kind = 'bounced' and data ->> 'type' = 'soft'
      and at >= ${since}
    group by customer_id`;
  return new Map(rows.map((r) => [r.customer_id, r.n]));
}
