import type { Db } from '../db/sql.js';
import { revenueIn } from './currency.js';

export interface ComparedCampaign {
  id: number;
  name: string;
  status: string;
  launched_at: Date | null;
  sent: number;
  opens: number;
  clicks: number;
  conversions: number;
  revenue: number;
  open_rate: number;
  click_rate: number;
  conversion_rate: number;
  revenue_per_recipient: number;
}

/**
 * Campaigns side by side over the same window: what happened in the first `days` days after
 * each one's launch (so an older campaign's longer tail does not flatter it). Human opens and
 * clicks only; revenue in `currency`. One query for all of them.
 */
export async function compareCampaigns(
  sql: Db,
  input: { ids: number[]; days: number; currency: string },
): Promise<ComparedCampaign[]> {
  const rows = await sql<
    Omit<ComparedCampaign, 'open_rate' | 'click_rate' | 'conversion_rate' | 'revenue_per_recipient'>[]
  >`
    with chosen as (
      select id, name, status, launched_at,
        coalesce(launched_at, now()) + make_interval(days => ${input.days}::int) as window_ends
      from campaigns where id = any(${input.ids}::bigint[]) and deleted_at is null
    ), sent as (
      select m.campaign_id, count(*)::int as sent from messages m join chosen c on c.id = m.campaign_id
      where m.status = 'sent' and m.sent_at < c.window_ends group by 1
    ), ev as (
      select e.campaign_id,
        count(distinct e.message_id) filter (where e.kind in ('opened', 'clicked') and not e.machine)::int as opens,
        count(distinct e.message_id) filter (where e.kind = 'clicked' and not e.machine)::int as clicks,
        count(distinct e.message_id) filter (where e.kind = 'converted')::int as conversions,
        coalesce(sum(${revenueIn(sql, input.currency)}) filter (where e.kind in ('converted', 'refunded')), 0)::float8 as revenue
      from contact_events e join chosen c on c.id = e.campaign_id
      where e.kind in ('opened', 'clicked', 'converted', 'refunded') and e.at < c.window_ends
      group by 1
    )
    select c.id, c.name, c.status, c.launched_at,
      coalesce(s.sent, 0) as sent, coalesce(ev.opens, 0) as opens, coalesce(ev.clicks, 0) as clicks,
      coalesce(ev.conversions, 0) as conversions, coalesce(ev.revenue, 0) as revenue
    from chosen c left join sent s on s.campaign_id = c.id left join ev on ev.campaign_id = c.id
    order by array_position(${input.ids}::bigint[], c.id)`;
  const rate = (n: number, d: number) => (d > 0 ? n / d : 0);
  return rows.map((r) => ({
    ...r,
    open_rate: rate(r.opens, r.sent),
    click_rate: rate(r.clicks, r.sent),
    conversion_rate: rate(r.conversions, r.sent),
    revenue_per_recipient: rate(r.revenue, r.sent),
  }));
}
