import type { Db } from '../db/sql.js';
import { revenueIn } from '../reports/currency.js';

// Customer search lives with customers; the UI's search box calls it.
export { type CustomerHit, searchCustomers } from '../customers/search.js';

/**
 * When a campaign is set to send (null: at launch), or undefined for no such campaign: all the
 * launch forecast fragment needs of the campaign. GET /v1/campaigns/{id} would also read the
 * first 5,000 of its audience for the language warnings, as much again as the forecast.
 */
export async function campaignScheduleAt(db: Db, id: number): Promise<Date | null | undefined> {
  const [row] = await db<{ schedule_at: Date | null }[]>`
    select schedule_at from campaigns where id = ${id} and deleted_at is null`;
  return row?.schedule_at;
}

export interface CampaignRates {
  id: number;
  name: string;
  status: string;
  launched_at: Date | null;
  sent: number;
  opened: number;
  clicked: number;
  converted: number;
  revenue: number;
}

/** The dashboard's recent campaigns with their counts, in one query (no query per campaign). */
export async function recentCampaignRates(
  sql: Db,
  limit: number,
  currency: string,
): Promise<CampaignRates[]> {
  return sql<CampaignRates[]>`
    with recent as (
      select id, name, status, launched_at from campaigns
      where deleted_at is null order by id desc limit ${limit}
    ), sent as (
      select m.campaign_id, count(*)::int as sent from messages m
      where m.campaign_id in (select id from recent) and m.status = 'sent' group by 1
    ), ev as (
      select e.campaign_id,
        count(distinct e.message_id) filter (where e.kind in ('opened', 'clicked') and not e.machine)::int as opened,
        count(distinct e.message_id) filter (where e.kind = 'clicked' and not e.machine)::int as clicked,
        count(distinct e.message_id) filter (where e.kind = 'converted')::int as converted,
        coalesce(sum(${revenueIn(sql, currency)}) filter (where e.kind in ('converted', 'refunded')), 0)::float8 as revenue
      from contact_events e
      where e.campaign_id in (select id from recent) and e.kind in ('opened', 'clicked', 'converted', 'refunded')
      group by 1
    )
    select r.id, r.name, r.status, r.launched_at,
      coalesce(s.sent, 0) as sent, coalesce(ev.opened, 0) as opened, coalesce(ev.clicked, 0) as clicked,
      coalesce(ev.converted, 0) as converted, coalesce(ev.revenue, 0) as revenue
    from recent r left join sent s on s.campaign_id = r.id left join ev on ev.campaign_id = r.id
    order by r.id desc`;
}

/** Conversions and revenue per day over the last `days` days, of the given campaigns (index on campaign_id). */
export async function conversionsPerDay(
  sql: Db,
  campaignIds: number[],
  now: Date,
  days: number,
  currency: string,
): Promise<Array<{ day: string; conversions: number; revenue: number }>> {
  return sql<Array<{ day: string; conversions: number; revenue: number }>>`
    select to_char(d.day, 'YYYY-MM-DD') as day, coalesce(c.conversions, 0)::int as conversions,
      coalesce(c.revenue, 0)::float8 as revenue
    from generate_series(date_trunc('day', ${now}::timestamptz - make_interval(days => ${days - 1}::int), 'UTC'),
                         date_trunc('day', ${now}::timestamptz, 'UTC'), interval '1 day') as d(day)
    left join (
      select date_trunc('day', at, 'UTC') as day, count(*) as conversions,
        sum(${revenueIn(sql, currency)}) as revenue
      from contact_events e
      where campaign_id = any(${campaignIds}::bigint[]) and kind = 'converted' and at >= ${now}::timestamptz - make_interval(days => ${days}::int)
      group by 1
    ) c on c.day = d.day
    order by d.day`;
}
