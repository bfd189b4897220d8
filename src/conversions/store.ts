import type { Db, Fragment } from '../db/sql.js';

export interface PurchaseForAttribution {
  id: number;
  customer_id: number;
  sku?: string | null;
  category?: string | null;
  amount: number;
  currency?: string | null;
  purchased_at: Date | string;
  coupon_code?: string | null;
}

export interface Conversion {
  id: number;
  customer_id: number;
  message_id: number;
  campaign_id: number | null;
  trigger_id: number | null;
  offer_id: number | null;
  purchase_id: number | null;
  revenue: number;
  currency: string | null;
  order_ref: string | null;
  touch: string | null;
  at: Date;
}

const RETURNING = (sql: Db) => sql`
  id, customer_id, message_id, campaign_id, trigger_id, offer_id, purchase_id,
  (data ->> 'revenue')::numeric as revenue, data ->> 'currency' as currency,
  data ->> 'order_ref' as order_ref, data ->> 'touch' as touch, at`;

/**
 * The attribution statement over the lines `lines` (a CTE-ready select of id, customer_id, sku,
 * category, amount, currency, purchased_at, coupon_code). The strongest evidence first: a line
 * that redeems a unique code converts to the message that carried the code and to its offer
 * (touch `code`), whenever it was sent. Otherwise, the customer's latest human click (within the
 * campaign's click window) or open (open window) at or before it; the conversion goes to the
 * offer of that message whose category is the line's (the clicked offer first).
 * One conversion per line (unique index on purchase_id): a line already converted moves to a
 * later touch when one has landed since (a click written after the purchase it preceded), never
 * away from a code, and is left alone otherwise, so running it again, from either side and in
 * any order, converges on the same row. Lines are written in id order so that two passes never
 * lock crosswise. A redeemed code is marked with the line. A line whose sku the message showed
 * in a products block is a recommendation conversion (`data.recommendation`: its feed and rank);
 * one whose sku a product offer of the message was filled with converts to that offer.
 */
function attributeLines(sql: Db, lines: Fragment): Promise<Conversion[]> {
  return sql<Conversion[]>`
    with p as (${lines}), coded as (
      select p.*, k.message_id, m.campaign_id, m.trigger_id, 'code' as touch, k.claimed_at as touch_at,
        k.offer_id as code_offer, k.id as code_id, m.offer_ids, m.recommended
      from p
      join lateral (
        select c.id, c.message_id, c.offer_id, c.claimed_at from offer_codes c
        where c.code = p.coupon_code and c.message_id is not null
        order by (c.customer_id = p.customer_id) desc, c.claimed_at desc
        limit 1
      ) k on true
      join messages m on m.id = k.message_id
      where p.coupon_code is not null
    ), touched as (
      select p.*, t.message_id, t.campaign_id, t.trigger_id, t.touch, t.touch_at, t.clicked_offer, t.offer_ids,
        t.recommended, null::bigint as code_offer
      from p
      join lateral (
        select e.message_id, e.campaign_id, e.trigger_id, e.kind as touch, e.at as touch_at,
               e.offer_id as clicked_offer, m.offer_ids, m.recommended
        from contact_events e
        join messages m on m.id = e.message_id
        left join campaigns c on c.id = e.campaign_id
        where e.customer_id = p.customer_id
          and e.kind in ('opened', 'clicked') and not e.machine
          and e.at <= p.purchased_at
          and e.at > p.purchased_at - interval '366 days'
          and e.at > p.purchased_at - make_interval(days => case when e.kind = 'clicked'
                then coalesce((c.attribution ->> 'click_days')::int, 7)
                else coalesce((c.attribution ->> 'open_days')::int, 1) end)
        order by e.at desc, e.id desc
        limit 1
      ) t on true
      where not exists (select 1 from coded where coded.id = p.id)
      union all
      select coded.id, coded.customer_id, coded.sku, coded.category, coded.amount, coded.currency,
        coded.purchased_at, coded.coupon_code, coded.message_id, coded.campaign_id, coded.trigger_id,
        coded.touch, coded.touch_at, coded.code_offer, coded.offer_ids, coded.recommended, coded.code_offer
      from coded
    ), redeemed as (
      update offer_codes set redeemed_purchase_id = coded.id
      from coded where offer_codes.id = coded.code_id and offer_codes.redeemed_purchase_id is null
    )
    insert into contact_events as ce (customer_id, kind, message_id, campaign_id, trigger_id, offer_id, purchase_id, data, at)
    select customer_id, 'converted', message_id, campaign_id, trigger_id,
      coalesce(code_offer,
        -- The line's sku is the product a product offer of the message was filled with.
        (select (r ->> 'offer_id')::bigint
          from jsonb_array_elements(case when jsonb_typeof(recommended) = 'array' then recommended
            else '[]'::jsonb end) as r
          where touched.sku is not null and r ->> 'sku' = touched.sku and r ? 'offer_id'
          order by (r ->> 'rank')::int limit 1),
        (select o.id from unnest(offer_ids) with ordinality as u(offer_id, pos)
         join offers o on o.id = u.offer_id
         where o.category is not null and o.category = touched.category
         order by (o.id = touched.clicked_offer) desc nulls last, u.pos
         limit 1)),
      id,
      jsonb_strip_nulls(jsonb_build_object('revenue', amount, 'currency', currency, 'touch', touch,
        'touch_at', touch_at, 'sku', sku, 'category', category, 'coupon_code', coupon_code,
        -- A recommendation conversion: the line's sku was among the products the message showed.
        'recommendation', (select jsonb_build_object('feed', r ->> 'feed', 'rank', (r ->> 'rank')::int)
          from jsonb_array_elements(case when jsonb_typeof(recommended) = 'array' then recommended
            else '[]'::jsonb end) as r
          where touched.sku is not null and r ->> 'sku' = touched.sku
          order by (r ->> 'rank')::int limit 1))),
      purchased_at
    from touched
    order by touched.id
    -- A conversion is dated at its purchase line, so (purchase_id, at) is the line's one conversion.
    on conflict (purchase_id, at) where kind = 'converted' do update set
      message_id = excluded.message_id, campaign_id = excluded.campaign_id,
      trigger_id = excluded.trigger_id, offer_id = excluded.offer_id, data = excluded.data
    where ce.data ->> 'touch' is distinct from 'code'
      and (excluded.data ->> 'touch' = 'code'
        or (ce.data ->> 'touch_at')::timestamptz < (excluded.data ->> 'touch_at')::timestamptz)
    returning ${RETURNING(sql)}`;
}

/** Attributes the given purchase lines (the purchase side: lines just written). */
export async function insertAttributedConversions(
  sql: Db,
  purchases: PurchaseForAttribution[],
): Promise<Conversion[]> {
  const rows = purchases.map((p) => ({
    ...p,
    purchased_at: p.purchased_at instanceof Date ? p.purchased_at.toISOString() : p.purchased_at,
  }));
  return attributeLines(
    sql,
    sql`select * from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as x(
        id bigint, customer_id bigint, sku text, category text, amount numeric, currency text,
        purchased_at timestamptz, coupon_code text)`,
  );
}

/** Attributes the stored sales with these ids (again, once their transaction has committed; refunds are not conversions). */
export async function attributeStoredPurchases(sql: Db, ids: readonly number[]): Promise<Conversion[]> {
  return attributeLines(
    sql,
    sql`select id, customer_id, sku, category, amount, currency, purchased_at, coupon_code
        from purchases where id = any(${ids as number[]}::bigint[]) and kind = 'purchase'`,
  );
}

/** Attributes the stored lines with ids in [from, to] (an import batch, after its commit). */
export async function attributeStoredPurchaseRange(sql: Db, from: number, to: number): Promise<Conversion[]> {
  return attributeLines(
    sql,
    sql`select id, customer_id, sku, category, amount, currency, purchased_at, coupon_code
        from purchases where id between ${from} and ${to} and kind = 'purchase'`,
  );
}

/**
 * The touch side: the lines of these customers bought at or after (and within a year of) their
 * earliest open or click among `touches`, attributed again now that the touches are stored.
 */
export async function attributeAfterTouches(
  sql: Db,
  touches: readonly { customer_id: number; at: Date }[],
): Promise<Conversion[]> {
  const first = new Map<number, number>();
  for (const t of touches) {
    const at = t.at.getTime();
    const known = first.get(t.customer_id);
    if (known === undefined || at < known) first.set(t.customer_id, at);
  }
  if (first.size === 0) return [];
  const rows = [...first].map(([customer_id, at]) => ({ customer_id, at: new Date(at).toISOString() }));
  return attributeLines(
    sql,
    sql`select p.id, p.customer_id, p.sku, p.category, p.amount, p.currency, p.purchased_at, p.coupon_code
        from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as t(customer_id bigint, at timestamptz)
        join purchases p on p.customer_id = t.customer_id
          and p.purchased_at >= t.at and p.purchased_at < t.at + interval '366 days'
        where p.kind = 'purchase'`,
  );
}

export interface RefundForAttribution {
  id: number;
  customer_id: number;
  order_ref: string | null;
  amount: number;
  currency?: string | null;
  purchased_at: Date | string;
}

/**
 * Refund lines of converted orders: each refund (a negative amount) whose order_ref is that of
 * a conversion of the same customer (an attributed line or one reported directly) is recorded
 * as a `refunded` event on the conversion's message, campaign, trigger and offer, so that every
 * report's revenue is net of it. Conversion counts do not change. Idempotent per refund line.
 */
export async function insertRefundReversals(sql: Db, refunds: RefundForAttribution[]): Promise<number> {
  const rows = refunds
    .filter((r) => r.order_ref !== null)
    .map((r) => ({
      ...r,
      purchased_at: r.purchased_at instanceof Date ? r.purchased_at.toISOString() : r.purchased_at,
    }));
  if (rows.length === 0) return 0;
  const inserted = await sql`
    with r as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as x(
        id bigint, customer_id bigint, order_ref text, amount numeric, currency text, purchased_at timestamptz)
    )
    insert into contact_events (customer_id, kind, message_id, campaign_id, trigger_id, offer_id, purchase_id, data, at)
    select r.customer_id, 'refunded', c.message_id, c.campaign_id, c.trigger_id, c.offer_id, r.id,
      jsonb_strip_nulls(jsonb_build_object('revenue', r.amount, 'currency', r.currency, 'order_ref', r.order_ref)),
      r.purchased_at
    from r
    join lateral (
      select e.message_id, e.campaign_id, e.trigger_id, e.offer_id
      from contact_events e
      left join purchases p on p.id = e.purchase_id
      where e.customer_id = r.customer_id and e.kind = 'converted'
        and coalesce(p.order_ref, e.data ->> 'order_ref') = r.order_ref
      order by e.at desc, e.id desc
      limit 1
    ) c on true
    on conflict (purchase_id, at) where kind = 'refunded' do nothing
    returning id`;
  return inserted.length;
}

/** A conversion reported directly (a shop's thank-you page); null when that order_ref is already recorded. */
export async function insertDirectConversion(
  sql: Db,
  input: {
    customer_id: number;
    message_id: number;
    campaign_id: number | null;
    trigger_id: number | null;
    offer_id: number | null;
    amount: number;
    currency: string;
    order_ref?: string | undefined;
    at: Date;
  },
): Promise<Conversion | null> {
  const data = {
    revenue: input.amount,
    currency: input.currency,
    source: 'api',
    ...(input.order_ref !== undefined ? { order_ref: input.order_ref } : {}),
  };
  const [row] = await sql<Conversion[]>`
    insert into contact_events (customer_id, kind, message_id, campaign_id, trigger_id, offer_id, data, at)
    values (${input.customer_id}, 'converted', ${input.message_id}, ${input.campaign_id}, ${input.trigger_id},
            ${input.offer_id}, ${sql.json(data)}, ${input.at})
    -- A repeated (message, order_ref) is skipped by the contact_events_claim_key trigger.
    returning ${RETURNING(sql)}`;
  return row ?? null;
}

/** The conversion already recorded for (message, order_ref). */
export async function findDirectConversion(
  sql: Db,
  messageId: number,
  orderRef: string,
): Promise<Conversion | null> {
  const [row] = await sql<Conversion[]>`
    select ${RETURNING(sql)} from contact_events
    where message_id = ${messageId} and kind = 'converted' and purchase_id is null and data ->> 'order_ref' = ${orderRef}`;
  return row ?? null;
}
