import type { Db } from '../db/sql.js';

export interface PurchaseRow {
  id: number;
  external_line_id: string;
  customer_id: number;
  order_ref: string | null;
  sku: string | null;
  category: string | null;
  quantity: number;
  kind: 'purchase' | 'refund';
  amount: number;
  currency: string;
  purchased_at: Date;
  source: string | null;
  coupon_code: string | null;
  created_at: Date;
}

/** Customer ids by external id, for lines that name their customer that way. */
export async function customerIdsByExternalId(db: Db, externalIds: string[]): Promise<Map<string, number>> {
  const rows = await db<{ id: number; external_id: string }[]>`
    select id, external_id from customers where external_id = any(${externalIds})`;
  return new Map(rows.map((r) => [r.external_id, r.id]));
}

/** Which of these customer ids exist. */
export async function existingCustomerIds(db: Db, ids: number[]): Promise<Set<number>> {
  const rows = await db<{ id: number }[]>`select id from customers where id = any(${ids})`;
  return new Set(rows.map((r) => r.id));
}

/** Inserts lines not seen before (idempotent on external_line_id); only the new rows come back. */
export function insertNewPurchases(db: Db, json: string) {
  return db<PurchaseRow[]>`
    insert into purchases (external_line_id, customer_id, order_ref, sku, category, quantity, kind, amount,
      currency, purchased_at, source, coupon_code)
    select r.external_line_id, r.customer_id, r.order_ref, r.sku, r.category, r.quantity,
      coalesce(r.kind, 'purchase'), r.amount,
      r.currency, r.purchased_at, r.source, r.coupon_code
    from jsonb_to_recordset(${json}::text::jsonb) as r(external_line_id text, customer_id bigint, order_ref text,
      sku text, category text, quantity numeric, kind text, amount numeric, currency text, purchased_at timestamptz,
      source text, coupon_code text)
    order by r.external_line_id
    on conflict (external_line_id) do nothing
    returning *`;
}

/** Ids of lines already recorded, for the answer to a re-post. */
export async function purchaseIdsByLine(db: Db, lineIds: string[]): Promise<Map<string, number>> {
  const rows = await db<{ id: number; external_line_id: string }[]>`
    select id, external_line_id from purchases where external_line_id = any(${lineIds})`;
  return new Map(rows.map((r) => [r.external_line_id, r.id]));
}

/** A page of a customer's purchases, newest first, keyset on (purchased_at, id). */
export function selectCustomerPurchases(
  db: Db,
  input: { customerId: number; limit: number; before?: { at: string; id: number } | undefined },
) {
  return db<(PurchaseRow & { at_key: string })[]>`
    select *, to_char(purchased_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at_key
    from purchases
    where customer_id = ${input.customerId}
      ${input.before ? db`and (purchased_at, id) < (${input.before.at}::timestamptz, ${input.before.id})` : db``}
    order by purchased_at desc, id desc
    limit ${input.limit + 1}`;
}
