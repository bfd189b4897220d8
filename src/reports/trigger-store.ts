import type { Db } from '../db/sql.js';
import { type CountRow, messageOutcomes, type SentWindow } from './store.js';

// SQL of the trigger reports. A trigger's messages are found by messages.trigger_id (indexed)
// and their events by contact_events.message_id (indexed), so a report reads only its own rows.

export interface TriggerHead {
  id: number;
  name: string;
  event: string;
  enabled: boolean;
  deleted: boolean;
}

/** The trigger a report is about (deleted ones too: their history stays reportable). */
export async function findTrigger(sql: Db, id: number): Promise<TriggerHead | null> {
  const [row] = await sql<TriggerHead[]>`
    select id, name, event, enabled, deleted_at is not null as deleted from triggers where id = ${id}`;
  return row ?? null;
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
