import type { Db } from '../db/sql.js';

/** How many recent purchase lines a context carries, and how far back. */
export const RECENT_PURCHASES = { limit: 100, days: 730 } as const;

/**
 * How many custom events a context carries per customer (newest first), and how far back:
 * did_event and event_count in process see these (in SQL they read the events table).
 */
export const CONTEXT_EVENTS = { limit: 1000, days: 3660 } as const;

export interface ContextEventRow {
  customer_id: number;
  name: string;
  at: Date;
  properties: Record<string, unknown>;
}

/** The custom events of a batch of customers, newest first, bounded by CONTEXT_EVENTS. */
export function selectContextEvents(db: Db, ids: number[], now: Date) {
  return db<ContextEventRow[]>`
    select c.id as customer_id, e.name, e.at, e.properties
    from unnest(${ids}::bigint[]) as c(id)
    cross join lateral (
      select name, at, properties from events
      where customer_id = c.id
        and at >= ${now}::timestamptz - make_interval(days => ${CONTEXT_EVENTS.days}::int)
      order by at desc
      limit ${CONTEXT_EVENTS.limit}::int
    ) e`;
}

/** The profile fields a context carries as stored; rules/context.ts's CustomerContext shares them. */
export interface ContextProfile {
  id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  locale: string | null;
  timezone: string | null;
  birth_date: string | null;
  age: number | null;
  address: Record<string, unknown>;
  family: unknown[];
  occupation: string | null;
  income_band: string | null;
  education: string | null;
  preferences: Record<string, unknown>;
  preferred_categories: string[];
  hobbies: string[];
}

export interface ContextRow extends ContextProfile {
  attributes: Record<string, unknown>;
  created_at: Date;
  days_since_signup: number;
  erased_at: Date | null;
  total_spent: number;
  orders_count: number;
  avg_order_value: number | null;
  first_purchase_at: Date | null;
  last_purchase_at: Date | null;
  days_since_last_purchase: number | null;
  spend_by_category: Record<string, number> | null;
  last_purchase_by_category: Record<string, string> | null;
  top_category: string | null;
  categories_bought: string[] | null;
  recent_purchases: RecentPurchaseRow[] | null;
  granted_purposes: string[] | null;
  sensitive_attributes: Record<string, string> | null;
}

/** One recent purchase line, as stored and as a context shows it (purchased_at already a string). */
export interface RecentPurchaseRow {
  order_ref: string | null;
  sku: string | null;
  category: string | null;
  quantity: number;
  amount: number;
  purchased_at: string;
}

/*
 * The aggregate expressions below are the definitions of the context fields: rules/to-sql.ts
 * uses the very same expressions (see AGGREGATE_SQL there), so SQL and in-process evaluation
 * see identical values.
 */

/** Everything a rule sees for a batch of customers, in one query (profile, aggregates, recent lines, consents). */
export function selectContextRows(db: Db, ids: number[], now: Date) {
  return db<ContextRow[]>`
    select c.id, c.external_id, c.email, c.first_name, c.last_name, c.locale, c.timezone,
      to_char(c.birth_date, 'YYYY-MM-DD') as birth_date,
      extract(year from age((${now}::timestamptz at time zone 'UTC')::date, c.birth_date))::int as age,
      c.address, c.family, c.occupation, c.income_band, c.education, c.preferences,
      c.preferred_categories, c.hobbies, c.attributes, c.created_at, c.erased_at,
      floor(extract(epoch from (${now}::timestamptz - c.created_at)) / 86400)::int as days_since_signup,
      coalesce(a.total_spent, 0) as total_spent,
      coalesce(a.orders_count, 0) as orders_count,
      case when a.orders_count > 0 then round(a.total_spent / a.orders_count, 2) end as avg_order_value,
      a.first_purchase_at, a.last_purchase_at,
      floor(extract(epoch from (${now}::timestamptz - a.last_purchase_at)) / 86400)::int as days_since_last_purchase,
      k.spend_by_category, k.last_purchase_by_category, k.top_category, k.categories_bought,
      r.recent_purchases, g.granted_purposes,
      (select jsonb_object_agg(key, purpose) from attributes where sensitive) as sensitive_attributes
    from customers c
    left join lateral (
      -- Spend is net of refunds; a refund is neither an order nor a purchase date.
      select sum(p.amount) as total_spent,
        count(distinct coalesce(p.order_ref, '#' || p.id::text)) filter (where p.kind = 'purchase') as orders_count,
        min(p.purchased_at) filter (where p.kind = 'purchase') as first_purchase_at,
        max(p.purchased_at) filter (where p.kind = 'purchase') as last_purchase_at
      from purchases p where p.customer_id = c.id
    ) a on true
    left join lateral (
      select jsonb_object_agg(x.category, x.spent) as spend_by_category,
        jsonb_object_agg(x.category, x.last_at) as last_purchase_by_category,
        (array_agg(x.category order by x.spent desc, x.category))[1] as top_category,
        array_agg(x.category order by x.category) as categories_bought
      from (
        select p.category, sum(p.amount) as spent, max(p.purchased_at) filter (where p.kind = 'purchase') as last_at
        from purchases p where p.customer_id = c.id and p.category is not null
        group by p.category
      ) x
    ) k on true
    left join lateral (
      select json_agg(json_build_object('order_ref', y.order_ref, 'sku', y.sku, 'category', y.category,
          'quantity', y.quantity, 'kind', y.kind, 'amount', y.amount, 'purchased_at', y.purchased_at)
          order by y.purchased_at desc, y.id desc) as recent_purchases
      from (
        select p.id, p.order_ref, p.sku, p.category, p.quantity, p.kind, p.amount, p.purchased_at
        from purchases p
        where p.customer_id = c.id
          and p.purchased_at >= ${now}::timestamptz - make_interval(days => ${RECENT_PURCHASES.days}::int)
        order by p.purchased_at desc, p.id desc
        limit ${RECENT_PURCHASES.limit}::int
      ) y
    ) r on true
    left join lateral (
      select array_agg(l.purpose) as granted_purposes
      from (
        select distinct on (s.purpose) s.purpose, s.granted
        from consents s where s.customer_id = c.id
        order by s.purpose, s.at desc, s.id desc
      ) l
      where l.granted
    ) g on true
    where c.id = any(${ids}::bigint[])`;
}
