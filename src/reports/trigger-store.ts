import type { Db } from '../db/sql.js';
import {
  bucketEventCounts,
  type CountRow,
  messageOutcomes,
  outcomeCounts,
  type TimeseriesRow,
} from './store.js';

// SQL of the trigger reports. A trigger's messages are found by messages.trigger_id (indexed)
// and their events by contact_events.message_id (indexed), so a report reads only its own rows.

export interface TriggerHead {
  id: number;
  name: string;
  event: string;
  enabled: boolean;
  deleted: boolean;
}

/** Messages sent within [from, to) by sent_at; either bound may be open. */
export interface SentWindow {
  from?: Date | undefined;
  to?: Date | undefined;
}

/** The trigger a report is about (deleted ones too: their history stays reportable). */
export async function findTrigger(sql: Db, id: number): Promise<TriggerHead | null> {
  const [row] = await sql<TriggerHead[]>`
    select id, name, event, enabled, deleted_at is not null as deleted from triggers where id = ${id}`;
  return row ?? null;
}

export interface TriggerBreakdownRow extends CountRow {
  dim: 'total' | 'offer';
  key: string | null;
}

/**
 * A trigger's sent messages (in the window) and what became of each, counted like the campaign
 * report: human opens and clicks unless told otherwise, a click counts as an open; totals, and
 * per offer shown (that offer's own clicks, conversions and revenue).
 */
export async function triggerBreakdown(
  sql: Db,
  triggerId: number,
  includeMachine: boolean,
  window: SentWindow,
  currency: string,
): Promise<TriggerBreakdownRow[]> {
  return sql<TriggerBreakdownRow[]>`
    with sent as materialized (
      select m.id, m.offer_ids
      from messages m
      where m.trigger_id = ${triggerId} and m.status = 'sent'
        and (${window.from ?? null}::timestamptz is null or m.sent_at >= ${window.from ?? null}::timestamptz)
        and (${window.to ?? null}::timestamptz is null or m.sent_at < ${window.to ?? null}::timestamptz)
    ), ev as materialized (
      select e.message_id, e.offer_id,
        ${messageOutcomes(sql, includeMachine, currency)}
      from sent s
      join contact_events e on e.message_id = s.id
      where e.kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded')
      group by e.message_id, e.offer_id
    ), msg as (
      select message_id, bool_or(opened) as opened, bool_or(clicked) as clicked, bool_or(bounced) as bounced,
             bool_or(converted) as converted, sum(revenue) as revenue
      from ev group by message_id
    )
    select 'total' as dim, null as key, ${outcomeCounts(sql)}
    from sent s left join msg x on x.message_id = s.id
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

export interface TriggerTotalsRow extends CountRow {
  trigger_id: number;
  name: string;
  event: string;
  enabled: boolean;
  deleted: boolean;
}

/**
 * Every trigger's totals over its messages sent in the window: live triggers, and deleted ones
 * that sent something in it.
 */
export async function triggerTotals(
  sql: Db,
  includeMachine: boolean,
  window: SentWindow,
  currency: string,
): Promise<TriggerTotalsRow[]> {
  return sql<TriggerTotalsRow[]>`
    with sent as materialized (
      select m.id, m.trigger_id
      from messages m
      where m.trigger_id is not null and m.status = 'sent'
        and (${window.from ?? null}::timestamptz is null or m.sent_at >= ${window.from ?? null}::timestamptz)
        and (${window.to ?? null}::timestamptz is null or m.sent_at < ${window.to ?? null}::timestamptz)
    ), msg as (
      select e.message_id,
        ${messageOutcomes(sql, includeMachine, currency)}
      from sent s
      join contact_events e on e.message_id = s.id
      where e.kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded')
      group by e.message_id
    ), per as (
      select s.trigger_id,
        count(*) as sent,
        count(*) filter (where x.bounced is not true) as delivered,
        count(*) filter (where x.bounced) as bounced,
        count(*) filter (where x.opened) as opens,
        count(*) filter (where x.clicked) as clicks,
        count(*) filter (where x.converted) as conversions,
        sum(x.revenue) as revenue
      from sent s left join msg x on x.message_id = s.id
      group by s.trigger_id
    )
    select t.id as trigger_id, t.name, t.event, t.enabled, t.deleted_at is not null as deleted,
      coalesce(p.sent, 0)::int as sent, coalesce(p.delivered, 0)::int as delivered,
      coalesce(p.bounced, 0)::int as bounced, coalesce(p.opens, 0)::int as opens,
      coalesce(p.clicks, 0)::int as clicks, coalesce(p.conversions, 0)::int as conversions,
      coalesce(p.revenue, 0)::float8 as revenue
    from triggers t
    left join per p on p.trigger_id = t.id
    where t.deleted_at is null or p.trigger_id is not null
    order by t.id`;
}

/**
 * A trigger's activity per hour or day (UTC) within [from, to): messages sent, distinct
 * messages opened, clicked and bounced, conversions, revenue and unsubscribes, each in the
 * bucket of the event's own time.
 */
export async function triggerTimeseries(
  sql: Db,
  triggerId: number,
  interval: 'hour' | 'day',
  includeMachine: boolean,
  window: SentWindow,
  currency: string,
): Promise<TimeseriesRow[]> {
  const from = window.from ?? null;
  const to = window.to ?? null;
  return sql<TimeseriesRow[]>`
    with mine as materialized (
      select id, sent_at from messages where trigger_id = ${triggerId}
    )
    select bucket,
      sum(sent)::int as sent, sum(opens)::int as opens, sum(clicks)::int as clicks,
      sum(bounces)::int as bounces, sum(conversions)::int as conversions,
      sum(revenue)::float8 as revenue, sum(unsubscribes)::int as unsubscribes
    from (
      select date_trunc(${interval}, sent_at, 'UTC') as bucket, count(*) as sent,
        0 as opens, 0 as clicks, 0 as bounces, 0 as conversions, 0 as revenue, 0 as unsubscribes
      from mine
      where sent_at is not null
        and (${from}::timestamptz is null or sent_at >= ${from}::timestamptz)
        and (${to}::timestamptz is null or sent_at < ${to}::timestamptz)
      group by 1
      union all
      select date_trunc(${interval}, e.at, 'UTC'), 0, ${bucketEventCounts(sql, includeMachine, currency)}
      from mine m
      join contact_events e on e.message_id = m.id
      where e.kind in ('opened', 'clicked', 'bounced', 'converted', 'refunded', 'unsubscribed')
        and (${from}::timestamptz is null or e.at >= ${from}::timestamptz)
        and (${to}::timestamptz is null or e.at < ${to}::timestamptz)
      group by 1
    ) t
    group by bucket
    order by bucket`;
}
