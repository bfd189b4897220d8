import type { AbColumns } from '../campaigns/winner.js';
import type { Db, Fragment } from '../db/sql.js';
import { revenueIn } from './currency.js';

export interface CountRow {
  sent: number;
  delivered: number;
  bounced: number;
  opens: number;
  clicks: number;
  conversions: number;
  revenue: number;
}

export interface CampaignHead extends AbColumns {
  id: number;
  name: string;
  variants: unknown;
}

/**
 * What became of a message, aggregated over its contact events aliased `e` (group by message,
 * or by message and offer): every report counts the same way. A click counts as an open; opens
 * and clicks by machines (privacy proxies, link scanners) only when asked; revenue from
 * conversions, net of the refunds of their orders (`refunded` events, negative), in `currency`
 * (see currency.ts).
 */
export function messageOutcomes(sql: Db, includeMachine: boolean, currency: string) {
  return sql`
    bool_or(e.kind in ('opened', 'clicked') and (${includeMachine} or not e.machine)) as opened,
    bool_or(e.kind = 'clicked' and (${includeMachine} or not e.machine)) as clicked,
    bool_or(e.kind = 'bounced') as bounced,
    bool_or(e.kind = 'converted') as converted,
    sum(${revenueIn(sql, currency)}) filter (where e.kind in ('converted', 'refunded')) as revenue`;
}

/** The report's counts over sent messages aliased `x` carrying their outcomes (see messageOutcomes). */
export function outcomeCounts(sql: Db) {
  return sql`
    count(*)::int as sent,
    count(*) filter (where x.bounced is not true)::int as delivered,
    count(*) filter (where x.bounced)::int as bounced,
    count(*) filter (where x.opened)::int as opens,
    count(*) filter (where x.clicked)::int as clicks,
    count(*) filter (where x.converted)::int as conversions,
    coalesce(sum(x.revenue), 0)::float8 as revenue`;
}

/**
 * A timeseries bucket's event counts over contact events aliased `e` (group by bucket): distinct
 * messages opened (a click counts), clicked and bounced, conversions with their revenue,
 * unsubscribes. In the same column order as the sent-count branch they are unioned with.
 */
export function bucketEventCounts(sql: Db, includeMachine: boolean, currency: string) {
  return sql`
    count(distinct e.message_id) filter (where e.kind in ('opened', 'clicked') and (${includeMachine} or not e.machine)),
    count(distinct e.message_id) filter (where e.kind = 'clicked' and (${includeMachine} or not e.machine)),
    count(distinct e.message_id) filter (where e.kind = 'bounced'),
    count(*) filter (where e.kind = 'converted'),
    coalesce(sum(${revenueIn(sql, currency)}) filter (where e.kind in ('converted', 'refunded')), 0),
    count(*) filter (where e.kind = 'unsubscribed')`;
}

/** The campaign a report is about (deleted ones too: their history stays reportable). */
export async function findCampaign(sql: Db, id: number): Promise<CampaignHead | null> {
  const [row] = await sql<CampaignHead[]>`
    select id, name, status, variants, ab_test, ab_window_started_at, ab_window_ends_at, ab_decided_at, ab_decision
    from campaigns where id = ${id}`;
  return row ?? null;
}

/** What a report is about: one campaign's messages, or one trigger's (and later a journey's). */
export type ReportScope = { campaign_id: number } | { trigger_id: number };

/** Messages sent within [from, to) by sent_at; either bound may be open. */
export interface SentWindow {
  from?: Date | undefined;
  to?: Date | undefined;
}

export interface BreakdownRow extends CountRow {
  dim: 'variant' | 'offer';
  key: string | null;
}

/** The scope's messages, as a condition on `messages` aliased `m`. */
function scopeMessages(sql: Db, scope: ReportScope) {
  return 'campaign_id' in scope
    ? sql`m.campaign_id = ${scope.campaign_id}`
    : sql`m.trigger_id = ${scope.trigger_id}`;
}

/** A message's sent_at inside the window (a condition on the column given). */
function inWindow(sql: Db, column: Fragment, window: SentWindow) {
  const from = window.from ?? null;
  const to = window.to ?? null;
  if (from === null && to === null) return sql`true`;
  return sql`(${from}::timestamptz is null or ${column} >= ${from}::timestamptz)
    and (${to}::timestamptz is null or ${column} < ${to}::timestamptz)`;
}

/**
 * The scope's contact events aliased `e`, as a FROM item and its condition: a campaign's by their
 * own campaign_id (one index range), a trigger's through its messages in `messages` (a relation
 * with an `id` column: contact_events has no trigger index, but one on message_id).
 */
function scopeEvents(sql: Db, scope: ReportScope, messages: string) {
  return 'campaign_id' in scope
    ? {
        from: sql`contact_events e`,
        // A lower bound on `at` lets PostgreSQL skip the months before the campaign: contact_events
        // is partitioned by month of `at` (migrations/0023). No event of a message precedes its
        // send; the month of margin covers the clocks that date events (senders, tracking, ESPs,
        // a test's) disagreeing, at the cost of one more partition at most.
        where: sql`e.campaign_id = ${scope.campaign_id}
          and e.at >= coalesce((select min(s.sent_at) from ${sql(messages)} s), '-infinity') - interval '31 days'`,
      }
    : { from: sql`${sql(messages)} s join contact_events e on e.message_id = s.id`, where: sql`true` };
}

/**
 * The whole report of a scope in one pass over its events: each sent message's outcome (human
 * opens and clicks unless told otherwise; a click counts as an open), grouped by variant (a
 * trigger's messages have none: one group) and by each offer the message showed (that offer's
 * own clicks, conversions and revenue).
 */
export async function scopeBreakdown(
  sql: Db,
  scope: ReportScope,
  includeMachine: boolean,
  currency: string,
  window: SentWindow = {},
): Promise<BreakdownRow[]> {
  const events = scopeEvents(sql, scope, 'sent');
  return sql<BreakdownRow[]>`
    with sent as materialized (
      select m.id, m.variant, m.offer_ids, m.sent_at
      from messages m
      where ${scopeMessages(sql, scope)} and m.status = 'sent' and ${inWindow(sql, sql`m.sent_at`, window)}
    ), ev as materialized (
      select e.message_id, e.offer_id,
        ${messageOutcomes(sql, includeMachine, currency)}
      from ${events.from}
      where ${events.where} and e.message_id is not null
        and e.kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded')
      group by e.message_id, e.offer_id
    ), msg as (
      select message_id, bool_or(opened) as opened, bool_or(clicked) as clicked, bool_or(bounced) as bounced,
             bool_or(converted) as converted, sum(revenue) as revenue
      from ev group by message_id
    )
    select 'variant' as dim, s.variant as key, ${outcomeCounts(sql)}
    from sent s left join msg x on x.message_id = s.id group by s.variant
    union all
    select 'offer', o.offer_id::text,
      count(*)::int,
      count(*) filter (where x.bounced is not true)::int,
      count(*) filter (where x.bounced)::int,
      count(*) filter (where x.opened)::int,
      count(*) filter (where y.clicked)::int,
      count(*) filter (where y.converted)::int,
      coalesce(sum(y.revenue), 0)::float8
    from sent s
    cross join unnest(s.offer_ids) as o(offer_id)
    left join msg x on x.message_id = s.id
    left join ev y on y.message_id = s.id and y.offer_id = o.offer_id
    group by o.offer_id`;
}

export interface TimeseriesRow {
  bucket: Date;
  sent: number;
  opens: number;
  clicks: number;
  bounces: number;
  conversions: number;
  revenue: number;
  unsubscribes: number;
}

/**
 * A scope's activity per hour or day (UTC) within [from, to): messages sent, distinct messages
 * opened, clicked and bounced, conversions, revenue and unsubscribes, each in the bucket of the
 * event's own time.
 */
export async function scopeTimeseries(
  sql: Db,
  scope: ReportScope,
  interval: 'hour' | 'day',
  includeMachine: boolean,
  currency: string,
  window: SentWindow = {},
): Promise<TimeseriesRow[]> {
  const events = scopeEvents(sql, scope, 'mine');
  return sql<TimeseriesRow[]>`
    with mine as materialized (
      select m.id, m.sent_at from messages m where ${scopeMessages(sql, scope)}
    )
    select bucket,
      sum(sent)::int as sent, sum(opens)::int as opens, sum(clicks)::int as clicks,
      sum(bounces)::int as bounces, sum(conversions)::int as conversions,
      sum(revenue)::float8 as revenue, sum(unsubscribes)::int as unsubscribes
    from (
      select date_trunc(${interval}, sent_at, 'UTC') as bucket, count(*) as sent,
        0 as opens, 0 as clicks, 0 as bounces, 0 as conversions, 0 as revenue, 0 as unsubscribes
      from mine
      where sent_at is not null and ${inWindow(sql, sql`sent_at`, window)}
      group by 1
      union all
      select date_trunc(${interval}, e.at, 'UTC'), 0, ${bucketEventCounts(sql, includeMachine, currency)}
      from ${events.from}
      where ${events.where} and e.kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded', 'unsubscribed')
        and ${inWindow(sql, sql`e.at`, window)}
      group by 1
    ) t
    group by bucket
    order by bucket`;
}

export interface AbCellRow extends CountRow {
  /** False: the test cell; true: the winner send-out. */
  remainder: boolean;
  variant: string | null;
  /** Σ over messages of (the message's revenue)², for a test of revenue per recipient. */
  revenue_sq: number;
}

/**
 * A campaign's sent messages by A/B cell and variant, counted as scopeBreakdown counts them
 * (a click counts as an open; machine events only when asked).
 */
export async function abCellBreakdown(
  sql: Db,
  campaignId: number,
  includeMachine: boolean,
  currency: string,
): Promise<AbCellRow[]> {
  return sql<AbCellRow[]>`
    with msg as (
      select message_id,
        ${messageOutcomes(sql, includeMachine, currency)}
      from contact_events e
      where campaign_id = ${campaignId} and message_id is not null
        and kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded')
      group by message_id
    )
    select m.ab_remainder as remainder, m.variant, ${outcomeCounts(sql)},
      coalesce(sum(x.revenue * x.revenue), 0)::float8 as revenue_sq
    from messages m left join msg x on x.message_id = m.id
    where m.campaign_id = ${campaignId} and m.status = 'sent'
    group by m.ab_remainder, m.variant
    order by m.ab_remainder, m.variant`;
}

/** Names of offers, for labelling a breakdown. */
export async function offerNames(sql: Db, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<
    { id: number; name: string }[]
  >`select id, name from offers where id = any(${ids}::bigint[])`;
  return new Map(rows.map((r) => [r.id, r.name]));
}

export interface OfferReportRow {
  offer_id: number;
  name: string;
  category: string | null;
  campaigns: number;
  shown: number;
  clicks: number;
  conversions: number;
  revenue: number;
}

/** Every offer that was ever sent or clicked: times shown in sent messages, human clicks, conversions. */
export async function offersReport(
  sql: Db,
  includeMachine: boolean,
  currency: string,
): Promise<OfferReportRow[]> {
  return sql<OfferReportRow[]>`
    with shown as (
      select o.offer_id, count(*) as shown, count(distinct m.campaign_id) as campaigns
      from messages m cross join unnest(m.offer_ids) as o(offer_id)
      where m.status = 'sent'
      group by o.offer_id
    ), ev as (
      select offer_id,
        count(distinct message_id) filter (where kind = 'clicked' and (${includeMachine} or not machine)) as clicks,
        count(distinct message_id) filter (where kind = 'converted') as conversions,
        sum(${revenueIn(sql, currency)}) filter (where kind in ('converted', 'refunded')) as revenue
      from contact_events e
      where offer_id is not null and kind in ('clicked', 'converted', 'refunded')
      group by offer_id
    )
    select o.id as offer_id, o.name, o.category,
      coalesce(s.campaigns, 0)::int as campaigns, coalesce(s.shown, 0)::int as shown,
      coalesce(e.clicks, 0)::int as clicks, coalesce(e.conversions, 0)::int as conversions,
      coalesce(e.revenue, 0)::float8 as revenue
    from offers o
    left join shown s on s.offer_id = o.id
    left join ev e on e.offer_id = o.id
    where s.offer_id is not null or e.offer_id is not null
    order by o.id`;
}

export interface RecommendedProductRow {
  sku: string;
  product_id: number | null;
  title: string | null;
  /** Sent messages whose products blocks showed it. */
  shown: number;
  /** Messages in which it was clicked (human clicks unless told otherwise). */
  clicks: number;
  /** Purchases of it counted as recommendation conversions, and their revenue (in `currency`). */
  conversions: number;
  revenue: number;
}

/**
 * A campaign's recommended products (the items its messages showed in `{{> products}}` blocks,
 * as kept on `messages.recommended`): how often each was shown, clicked (the click names its sku)
 * and bought as a recommendation conversion (`data.recommendation` on the conversion).
 */
export async function recommendedProducts(
  sql: Db,
  campaignId: number,
  includeMachine: boolean,
  currency: string,
): Promise<RecommendedProductRow[]> {
  return sql<RecommendedProductRow[]>`
    with shown as (
      select r.item ->> 'sku' as sku, count(distinct m.id)::int as shown
      from messages m cross join jsonb_array_elements(m.recommended) as r(item)
      where m.campaign_id = ${campaignId} and m.status = 'sent' and jsonb_typeof(m.recommended) = 'array'
      group by 1
    ), ev as (
      select e.data ->> 'sku' as sku,
        count(distinct e.message_id) filter (where e.kind = 'clicked' and e.data ? 'product_id'
          and (${includeMachine} or not e.machine))::int as clicks,
        count(*) filter (where e.kind = 'converted' and e.data ? 'recommendation')::int as conversions,
        coalesce(sum(${revenueIn(sql, currency)}) filter (where e.kind = 'converted' and e.data ? 'recommendation'), 0)::float8 as revenue
      from contact_events e
      where e.campaign_id = ${campaignId} and e.kind in ('clicked', 'converted') and e.data ? 'sku'
      group by 1
    )
    select s.sku, p.id as product_id, product_title(p.title, 'en') as title, s.shown,
      coalesce(e.clicks, 0) as clicks, coalesce(e.conversions, 0) as conversions, coalesce(e.revenue, 0) as revenue
    from shown s
    left join ev e on e.sku = s.sku
    left join products p on p.sku = s.sku
    order by revenue desc, conversions desc, clicks desc, shown desc, s.sku`;
}

export interface ReplacementRow {
  offer_id: number;
  name: string | null;
  reason: 'codes_exhausted' | 'no_product';
  /** The offer shown in its place; null when no other offer was eligible. */
  by: number | null;
  by_name: string | null;
  mails: number;
}

/**
 * The offers a campaign's sender left out of mails at send time (`replaced` on the `sent`
 * events, written by src/mail/settle-offers.ts): per planned offer, reason and replacing offer,
 * in how many sent mails.
 */
export async function campaignReplacements(sql: Db, campaignId: number): Promise<ReplacementRow[]> {
  const events = scopeEvents(sql, { campaign_id: campaignId }, 'sent');
  return sql<ReplacementRow[]>`
    with sent as materialized (
      select m.sent_at from messages m where m.campaign_id = ${campaignId} and m.status = 'sent'
    ), r as (
      select (x ->> 'offer_id')::bigint as offer_id, x ->> 'reason' as reason,
        (x ->> 'by')::bigint as by, count(*)::int as mails
      from ${events.from} cross join jsonb_array_elements(e.data -> 'replaced') as x
      where ${events.where} and e.kind = 'sent' and jsonb_typeof(e.data -> 'replaced') = 'array'
      group by 1, 2, 3
    )
    select r.offer_id, o.name, r.reason, r.by, b.name as by_name, r.mails
    from r left join offers o on o.id = r.offer_id left join offers b on b.id = r.by
    order by r.offer_id, r.mails desc, r.by nulls last`;
}
