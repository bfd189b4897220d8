import type { Db, Fragment } from '../db/sql.js';
import type { OfferProduct } from '../offers/schema.js';
import type { MessageCategory } from '../policy/schema.js';
import type { PolicySettings } from '../policy/settings.js';

// The send ledger (`messages`): the queries of delivery. Campaigns, triggers and journeys write
// rows; only this module claims, sends, records, fails, retries and cancels them. Every
// statement that updates many rows at once locks them in id order (lockedInIdOrder).

/** The part of a campaign variant the sender reads: its subject line, if it has its own. */
export interface VariantSubject {
  name: string;
  subject?: string | undefined;
}

/** Cancels the rows of a campaign that were not sent yet. */
export async function cancelQueuedMessages(sql: Db, campaignId: number): Promise<number> {
  const rows = await sql`
    update messages m set status = 'cancelled', updated_at = now()
    from ${lockedInIdOrder(sql, sql`campaign_id = ${campaignId} and status = 'queued'`)}
    where m.id = locked.id returning m.id`;
  return rows.length;
}

// A row is handed to the send queue once due: a campaign sent at each customer's best hour
// plans rows with a send_at, and the reconciler's top-ups hand them over as their hour comes.
const dueRow = (sql: Db) => sql`(send_at is null or send_at <= now())`;

/** Ids of a campaign's rows still to send, after a given id (keyset), for (re-)enqueueing. */
export async function unsentMessageIds(
  sql: Db,
  campaignId: number,
  input: { afterId: number; limit: number },
): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    select id from messages
    where campaign_id = ${campaignId} and status in ('queued', 'sending') and id > ${input.afterId}
      and ${dueRow(sql)}
    order by id limit ${input.limit}`;
  return rows.map((r) => r.id);
}

/**
 * A campaign's unsent rows after `afterId` in id order, walking the primary key a span of ids at
 * a time so that the cost follows the rows read, not the campaign's size. `done` when the scan
 * passed the table's last id.
 */
export async function unsentInIdOrder(
  sql: Db,
  campaignId: number,
  input: { afterId: number; limit: number; span?: number },
): Promise<{ ids: number[]; lastSeen: number; done: boolean }> {
  const span = input.span ?? Math.max(1000, input.limit * 4);
  const [{ max }] = (await sql`select coalesce(max(id), 0)::bigint as max from messages`) as unknown as [
    { max: number },
  ];
  let after = input.afterId;
  const ids: number[] = [];
  while (ids.length < input.limit && after < max) {
    const want = input.limit - ids.length;
    const rows = await sql<{ id: number }[]>`
      select id from messages
      where id > ${after} and id <= ${after + span} and campaign_id = ${campaignId}
        and status in ('queued', 'sending') and ${dueRow(sql)}
      order by id limit ${want}`;
    for (const r of rows) ids.push(r.id);
    after = rows.length === want ? rows[rows.length - 1]!.id : after + span;
  }
  return { ids, lastSeen: Math.min(after, max), done: after >= max };
}

/** The first unsent row of a campaign (where a rescan starts), and how many rows are unsent. */
export async function unsentSummary(
  sql: Db,
  campaignId: number,
): Promise<{ first: number | null; count: number }> {
  const [row] = await sql<{ first: number | null; count: number }[]>`
    select min(id)::bigint as first, count(*)::int as count from messages
    where campaign_id = ${campaignId} and status in ('queued', 'sending') and ${dueRow(sql)}`;
  return row ?? { first: null, count: 0 };
}

/**
 * The ids of the ledger rows matching `where`, locked in id order, as a `locked` relation for an
 * update's FROM. Statements that update many rows at once lock them in their plan's order (index
 * or heap, which updates reshuffle), so two of them over the same rows can deadlock; in id order
 * they cannot. With `skipLocked`, a row another transaction holds is left out instead of waited on.
 */
export function lockedInIdOrder(sql: Db, where: Fragment, options: { skipLocked?: boolean } = {}): Fragment {
  return sql`(
    select id from messages where ${where}
    order by id for update ${options.skipLocked ? sql`skip locked` : sql``}
  ) locked`;
}

/**
 * Notes that these ledger rows (a campaign's or a trigger's) were handed to the queue. Concurrent
 * planners note overlapping pages; a row another one holds is skipped: that one notes it, or a
 * sender is claiming it, which marks it busy as well.
 */
export async function markEnqueued(sql: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    update messages m set enqueued_at = now()
    from ${lockedInIdOrder(sql, sql`id = any(${ids}::bigint[])`, { skipLocked: true })}
    where m.id = locked.id`;
}

export interface RecipientFacts {
  id: number;
  email: string | null;
  erased: boolean;
  /** The latest marketing_email consent: true, false (withdrawn) or null (never asked). */
  marketing: boolean | null;
}

/** What the planner needs to know about each customer of a page to decide who may be mailed. */
export async function recipientFacts(sql: Db, customerIds: number[]): Promise<RecipientFacts[]> {
  return sql<RecipientFacts[]>`
    select c.id, c.email, c.erased_at is not null as erased,
      (select k.granted from consents k
        where k.customer_id = c.id and k.purpose = 'marketing_email'
        order by k.at desc, k.id desc limit 1) as marketing
    from customers c where c.id = any(${customerIds}::bigint[])
    order by c.id`;
}

/** The suppression reasons of these address hashes (hex), keyed by hash. */
export async function suppressionsOf(sql: Db, hashesHex: string[]): Promise<Map<string, string>> {
  if (hashesHex.length === 0) return new Map();
  const rows = await sql<{ hash: string; reason: string }[]>`
    select encode(email_hash, 'hex') as hash, reason from suppressions
    where email_hash = any(select decode(h, 'hex') from unnest(${hashesHex}::text[]) h)`;
  return new Map(rows.map((r) => [r.hash, r.reason]));
}

/** Adds an address hash to the suppression list (first reason wins). */
export async function insertSuppression(
  sql: Db,
  hash: Buffer,
  reason: string,
  source: string,
): Promise<void> {
  await sql`
    insert into suppressions (email_hash, reason, source) values (${hash}, ${reason}, ${source})
    on conflict (email_hash) do nothing`;
}

export interface ClaimedMessage {
  id: number;
  customer_id: number;
  /** Null for a trigger's message. */
  campaign_id: number | null;
  trigger_id: number | null;
  /** A journey's mail: its journey (the step is `variant`, whose subject is the step's own). */
  journey_id: number | null;
  variant: string | null;
  template_id: number;
  template_version: number;
  offer_ids: number[];
  attempts: number;
  campaign_name: string;
  campaign_variants: VariantSubject[];
  from_address: string | null;
  from_name: string | null;
  /** The sender identity the campaign or trigger chose; null: the default sender. */
  sender_id: number | null;
  /** A trigger message's latest marketing_email consent at claim time (null: none, or a campaign row). */
  marketing: boolean | null;
  customer: Record<string, unknown> & {
    email: string | null;
    erased_at: Date | null;
    timezone: string | null;
  };
  /** The row's own category and priority, else its campaign's or trigger's (see src/policy/). */
  category: MessageCategory;
  priority: number;
  policy_counted: boolean;
  /** The workspace's contact policy, read by the claim itself (no extra round trip per send). */
  policy: PolicySettings | null;
}

/**
 * Claims ledger rows for sending, many per statement: each queued, or `sending` with a lease
 * older than `leaseSeconds` (its worker died); a campaign's row only while the campaign is
 * sending, a delayed or held row only once its send_at has come by the sender's clock (`now`,
 * injectable in tests). A row another transaction holds is skipped, not waited on, so one busy
 * row never stalls the batch (the caller asks again for it). Returns the rows claimed, with what
 * rendering and the contact policy need; the others are not in the answer.
 */
export async function claimMessages(
  sql: Db,
  ids: readonly number[],
  leaseSeconds: number,
  now: Date = new Date(),
): Promise<ClaimedMessage[]> {
  if (ids.length === 0) return [];
  const claimable = sql`id = any(${ids as number[]}::bigint[])
    and (status = 'queued'
      or (status = 'sending' and updated_at < now() - make_interval(secs => ${leaseSeconds})))
    and (send_at is null or send_at <= ${now})
    and (campaign_id is null
      or exists (select 1 from campaigns c where c.id = messages.campaign_id and c.status = 'sending'))`;
  return sql<ClaimedMessage[]>`
    with claimed as (
      update messages m set status = 'sending', attempts = m.attempts + 1, updated_at = now()
      from ${lockedInIdOrder(sql, claimable, { skipLocked: true })}
      where m.id = locked.id
      returning m.*
    )
    select k.id, k.customer_id, k.campaign_id, k.trigger_id, k.journey_id,
      coalesce(k.variant, k.journey_step) as variant, k.template_id, k.template_version,
      k.offer_ids, k.attempts,
      coalesce(c.name, t.name, j.name) as campaign_name,
      -- A journey step's own subject is read like a campaign variant's (named by the step id).
      coalesce(c.variants, jv.step_subjects, '[]'::jsonb) as campaign_variants,
      c.from_address, c.from_name,
      coalesce(c.sender_id, t.sender_id, (jv.step_senders ->> k.journey_step)::bigint) as sender_id,
      coalesce(k.category, c.category, t.category, 'promotional') as category,
      coalesce(k.priority, c.priority, t.priority, 0) as priority, k.policy_counted,
      (select to_jsonb(s) - 'id' - 'updated_at' from contact_policy_settings s where s.id) as policy,
      -- Consent can change during an automated message's delay: it is read again at send time.
      case when k.campaign_id is null then (
        select g.granted from consents g
        where g.customer_id = k.customer_id and g.purpose = 'marketing_email'
        order by g.at desc, g.id desc limit 1) end as marketing,
      jsonb_build_object(
        'id', cu.id, 'external_id', cu.external_id, 'email', cu.email, 'first_name', cu.first_name,
        'last_name', cu.last_name, 'locale', cu.locale, 'timezone', cu.timezone, 'address', cu.address,
        'preferred_categories', cu.preferred_categories, 'hobbies', cu.hobbies, 'erased_at', cu.erased_at
      ) as customer
    from claimed k
      left join campaigns c on c.id = k.campaign_id
      left join triggers t on t.id = k.trigger_id
      left join journeys j on j.id = k.journey_id
      left join journey_versions jv on jv.id = k.journey_version_id
      join customers cu on cu.id = k.customer_id
    order by k.id`;
}

/** Why a row could not be claimed: its own status, its campaign's, and how far off its send_at is. */
export async function messageState(
  sql: Db,
  id: number,
  now: Date = new Date(),
): Promise<
  | { status: string; campaign_id: number | null; campaign_status: string | null; due_in_seconds: number }
  | undefined
> {
  const [row] = await sql<
    { status: string; campaign_id: number | null; campaign_status: string | null; due_in_seconds: number }[]
  >`
    select m.status, m.campaign_id, c.status as campaign_status,
      greatest(0, extract(epoch from coalesce(m.send_at, ${now}) - ${now}::timestamptz))::float8 as due_in_seconds
    from messages m left join campaigns c on c.id = m.campaign_id where m.id = ${id}`;
  return row;
}

/** An accepted mail, as recordSent writes it. */
export interface SentRecord {
  id: number;
  smtpMessageId: string;
  reply: string | null;
  at: Date;
  data: Record<string, unknown>;
  /** The recommended products the mail showed, kept on the row with its `sent` (absent: none). */
  recommended?: RecommendedItem[] | undefined;
}

/**
 * Everything that follows accepted mails, as one statement for many of them (so one round trip,
 * and atomic without a transaction): each row becomes `sent` unless something (a cancel) moved
 * it meanwhile, its `sent` contact event is appended, and one offer impression per (message,
 * offer) is recorded so that caps hold across campaigns and triggers. The event and impressions
 * are written only for rows marked here, so a retry adds nothing. Returns the ids it marked.
 */
export async function recordSentMany(sql: Db, records: readonly SentRecord[]): Promise<Set<number>> {
  if (records.length === 0) return new Set();
  const input = records.map((r) => ({
    id: r.id,
    smtp_message_id: r.smtpMessageId,
    reply: r.reply,
    at: r.at.toISOString(),
    data: r.data,
    recommended: r.recommended ?? null,
  }));
  const ids = records.map((r) => r.id);
  const rows = await sql<{ id: number }[]>`
    with input as (
      select * from jsonb_to_recordset(${sql.json(input as never)}::jsonb)
        as x(id bigint, smtp_message_id text, reply text, at timestamptz, data jsonb, recommended jsonb)
    ), sent as (
      update messages m set status = 'sent', sent_at = i.at, smtp_message_id = i.smtp_message_id,
        smtp_reply = i.reply, error = null, updated_at = now(),
        recommended = coalesce(i.recommended, m.recommended)
      from ${lockedInIdOrder(sql, sql`id = any(${ids}::bigint[]) and status in ('queued', 'sending')`)}
        join input i on i.id = locked.id
      where m.id = locked.id and m.status in ('queued', 'sending')
      returning m.id, m.customer_id, m.campaign_id, m.trigger_id, m.offer_ids, i.at, i.data
    ), event as (
      insert into contact_events (customer_id, kind, channel, message_id, campaign_id, trigger_id, machine, data, at)
      select customer_id, 'sent', 'email', id, campaign_id, trigger_id, false, data, at
      from sent
      on conflict do nothing
    ), impressions as (
      insert into offer_impressions (offer_id, customer_id, message_id, campaign_id, trigger_id, at)
      select distinct o, s.customer_id, s.id, s.campaign_id, s.trigger_id, s.at
      from sent s, unnest(s.offer_ids) as o
      on conflict (message_id, offer_id) where message_id is not null do nothing
    )
    select id from sent`;
  return new Set(rows.map((r) => r.id));
}

/**
 * Ends a row for good with the reason (a 5xx reply, a template that cannot render); the unique
 * codes it had claimed go back to their pools, since no one received them.
 */
export async function markFailed(
  sql: Db,
  id: number,
  input: { error: string; reply: string | null },
): Promise<boolean> {
  const rows = await sql`
    with failed as (
      update messages set status = 'failed', error = ${input.error}, smtp_reply = ${input.reply}, updated_at = now()
      where id = ${id} and status in ('queued', 'sending') returning id
    ), released as (
      update offer_codes set message_id = null, customer_id = null, claimed_at = null
      from failed where offer_codes.message_id = failed.id and offer_codes.redeemed_purchase_id is null
    )
    select id from failed`;
  return rows.length > 0;
}

/** Puts a claimed row back to queued after a temporary failure; its job retries later. */
export async function releaseForRetry(
  sql: Db,
  id: number,
  input: { error: string; reply: string | null },
): Promise<void> {
  await sql`
    update messages set status = 'queued', error = ${input.error}, smtp_reply = ${input.reply}, updated_at = now()
    where id = ${id} and status = 'sending'`;
}

/** Sets the status of a row that will not be sent (its campaign was cancelled, its customer erased). */
export async function markUnsendable(
  sql: Db,
  id: number,
  status: 'cancelled' | 'suppressed',
  reason: string | null,
): Promise<void> {
  await sql`
    update messages set status = ${status}, suppressed_reason = ${reason}, updated_at = now()
    where id = ${id} and status in ('queued', 'sending')`;
}

export interface OfferContent {
  id: number;
  name: string;
  title: string;
  text: string | null;
  image_url: string | null;
  url: string | null;
  code: string | null;
  category: string | null;
  /** The offer draws a unique code per message from its pool (claimed at send time). */
  code_pool: boolean;
  /** Title, text and code wording per locale (`{"fr": {"title": …}}`). */
  translations: Record<string, { title?: string; text?: string; code_label?: string }>;
  /** Where an offer about one of the customer's recommended products takes it (filled at send). */
  product: OfferProduct | null;
}

/** The content of offers by id (deleted ones too: a message shows what was decided). */
export async function offerContents(sql: Db, ids: number[]): Promise<OfferContent[]> {
  return sql<OfferContent[]>`
    select id, name, title, text, image_url, url, code, category, translations, product,
      exists (select 1 from offer_codes k where k.offer_id = offers.id) as code_pool
    from offers where id = any(${ids}::bigint[])`;
}

export interface OrderView {
  ref: string | null;
  purchased_at: string;
  total: number;
  currency: string;
  lines?: { sku: string | null; category: string | null; quantity: number; amount: number }[];
}

/**
 * What an automated email may say about orders: the order behind its firing (its key
 * `order:<customer>:<ref>` or `purchase:<id>`; null for other events) and the customer's latest
 * order (null when none). Read at send time for trigger messages only, apart from the claim,
 * so that campaign sends do not pay for it.
 */
export async function triggerMessageOrders(
  sql: Db,
  message: { id: number; customer_id: number },
): Promise<{ order: OrderView | null; last_order: OrderView | null }> {
  const [row] = await sql<{ order: OrderView | null; last_order: OrderView | null }[]>`
    select
      (select jsonb_build_object(
          'ref', min(p.order_ref), 'purchased_at', max(p.purchased_at), 'total', sum(p.amount),
          'currency', min(p.currency),
          'lines', jsonb_agg(jsonb_build_object(
            'sku', p.sku, 'category', p.category, 'quantity', p.quantity, 'amount', p.amount) order by p.id))
        from trigger_firings f join purchases p on p.customer_id = f.customer_id
        where f.message_id = ${message.id}
          and (p.order_ref = case when f.event_key like 'order:%'
                 then substring(f.event_key from char_length('order:' || f.customer_id::text || ':') + 1) end
            or p.id = case when f.event_key like 'purchase:%' then substring(f.event_key from 10)::bigint end)
        having count(*) > 0) as "order",
      (select jsonb_build_object(
          'ref', min(p.order_ref), 'purchased_at', max(p.purchased_at), 'total', sum(p.amount),
          'currency', min(p.currency))
        from purchases p,
          (select id, order_ref from purchases where customer_id = ${message.customer_id}
           order by purchased_at desc, id desc limit 1) l
        where p.customer_id = ${message.customer_id}
          and (p.id = l.id or (l.order_ref is not null and p.order_ref = l.order_ref))
        having count(*) > 0) as last_order`;
  return row ?? { order: null, last_order: null };
}

/**
 * Sets a row's offer_ids to what its mail shows: planned offers it could not show (their code
 * pool ran dry, their product went, after planning) are out, replacements in their places.
 */
export async function setOffers(sql: Db, id: number, offerIds: readonly number[]): Promise<number[]> {
  const [row] = await sql<{ offer_ids: number[] }[]>`
    update messages set offer_ids = ${offerIds as number[]}::bigint[], updated_at = now()
    where id = ${id}
    returning offer_ids`;
  return row?.offer_ids ?? [];
}

/** A recommended product a message showed; `offer_id` when a product offer was filled with it. */
export interface RecommendedItem {
  feed: string;
  rank: number;
  sku: string;
  offer_id?: number;
}

/** The recommended products messages showed, kept on their rows for attribution (one statement). */
export async function recordRecommended(
  sql: Db,
  rows: readonly { id: number; items: RecommendedItem[] }[],
): Promise<void> {
  if (rows.length === 0) return;
  // In id order, so that two statements never lock rows crosswise.
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  await sql`
    update messages m set recommended = x.items
    from jsonb_to_recordset(${JSON.stringify(sorted)}::text::jsonb) as x(id bigint, items jsonb)
    where m.id = x.id`;
}
