import type { Db } from '../db/sql.js';
import type { Localized } from './localized.js';

export interface ProductRow {
  id: number;
  sku: string;
  title: Localized;
  description: Localized | null;
  price: number;
  currency: string;
  category: string | null;
  brand: string | null;
  image_url: string | null;
  url: string | null;
  in_stock: boolean;
  stock: number | null;
  margin: number | null;
  active: boolean;
  attributes: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

/**
 * Inserts or replaces products by sku; a row whose fields are all the same is left alone, so a
 * re-post is `unchanged`. `in_stock` follows `stock` when a count is given.
 */
export function upsertProducts(db: Db, json: string) {
  return db<{ id: number; sku: string; inserted: boolean }[]>`
    insert into products (sku, title, description, price, currency, category, brand, image_url, url,
      in_stock, stock, margin, active, attributes)
    select r.sku, r.title, r.description, r.price, r.currency, r.category, r.brand, r.image_url, r.url,
      coalesce(r.in_stock, r.stock > 0, true), r.stock, r.margin, coalesce(r.active, true),
      coalesce(r.attributes, '{}')
    from jsonb_to_recordset(${json}::text::jsonb) as r(sku text, title jsonb, description jsonb, price numeric,
      currency text, category text, brand text, image_url text, url text, in_stock boolean, stock integer,
      margin numeric, active boolean, attributes jsonb)
    order by r.sku
    on conflict (sku) do update set
      title = excluded.title, description = excluded.description, price = excluded.price,
      currency = excluded.currency, category = excluded.category, brand = excluded.brand,
      image_url = excluded.image_url, url = excluded.url, in_stock = excluded.in_stock,
      stock = excluded.stock, margin = excluded.margin, active = excluded.active,
      attributes = excluded.attributes, updated_at = now()
    where (products.title, products.description, products.price, products.currency, products.category,
        products.brand, products.image_url, products.url, products.in_stock, products.stock, products.margin,
        products.active, products.attributes)
      is distinct from (excluded.title, excluded.description, excluded.price, excluded.currency,
        excluded.category, excluded.brand, excluded.image_url, excluded.url, excluded.in_stock, excluded.stock,
        excluded.margin, excluded.active, excluded.attributes)
    returning id, sku, (xmax = 0) as inserted`;
}

/** Ids of skus already stored (for the answer about unchanged rows). */
export async function productIdsBySku(db: Db, skus: string[]): Promise<Map<string, number>> {
  const rows = await db<{ id: number; sku: string }[]>`select id, sku from products where sku = any(${skus})`;
  return new Map(rows.map((r) => [r.sku, r.id]));
}

export interface ProductFilter {
  category?: string | undefined;
  brand?: string | undefined;
  active?: boolean | undefined;
  in_stock?: boolean | undefined;
  skus?: string[] | undefined;
  q?: string | undefined;
  min_price?: number | undefined;
  max_price?: number | undefined;
  limit: number;
  after?: number | undefined;
}

/** A page of products in id order, filtered; one row more than the page tells whether more follow. */
export function selectProducts(db: Db, f: ProductFilter) {
  const like = f.q ? `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
  return db<ProductRow[]>`
    select * from products
    where true
      ${f.category !== undefined ? db`and category = ${f.category}` : db``}
      ${f.brand !== undefined ? db`and brand = ${f.brand}` : db``}
      ${f.active !== undefined ? db`and active = ${f.active}` : db``}
      ${f.in_stock !== undefined ? db`and in_stock = ${f.in_stock}` : db``}
      ${f.skus ? db`and sku = any(${f.skus})` : db``}
      ${like ? db`and (sku ilike ${like} or title::text ilike ${like})` : db``}
      ${f.min_price !== undefined ? db`and price >= ${f.min_price}` : db``}
      ${f.max_price !== undefined ? db`and price <= ${f.max_price}` : db``}
      ${f.after !== undefined ? db`and id > ${f.after}` : db``}
    order by id
    limit ${f.limit + 1}`;
}

/** One product by sku. */
export async function productBySku(db: Db, sku: string): Promise<ProductRow | undefined> {
  const [row] = await db<ProductRow[]>`select * from products where sku = ${sku}`;
  return row;
}

/** How many customers bought a sku, and its most lifted co-purchases (the product page). */
export async function productStats(db: Db, sku: string) {
  const [buyers] = await db<{ customers: number; lines: number }[]>`
    select count(distinct customer_id)::int as customers, count(*)::int as lines
    from purchases where sku = ${sku} and kind = 'purchase'`;
  const together = await db<{ sku: string; support: number; lift: number }[]>`
    select other_sku as sku, support, lift from product_pairs where sku = ${sku}
    order by lift desc, support desc, other_sku limit 10`;
  return { buyers: buyers ?? { customers: 0, lines: 0 }, together };
}

/** A customer as the product page lists them (erased customers never appear). */
export interface ProductCustomerRow {
  customer_id: number;
  external_id: string | null;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
}

/** Who bought a sku, latest buyer first: lines, quantity and last purchase per customer. */
export function productBuyers(db: Db, sku: string, limit: number) {
  return db<(ProductCustomerRow & { lines: number; quantity: number; last_bought_at: Date })[]>`
    select c.id as customer_id, c.external_id, c.first_name, c.last_name, c.email,
      count(*)::int as lines, sum(p.quantity)::float8 as quantity, max(p.purchased_at) as last_bought_at
    from purchases p join customers c on c.id = p.customer_id
    where p.sku = ${sku} and p.kind = 'purchase' and c.erased_at is null
    group by c.id
    order by max(p.purchased_at) desc, c.id
    limit ${limit}`;
}

/** The customers whose stored feeds hold a sku, best rank first, with the feed and its reason. */
export function productRecommendedTo(db: Db, sku: string, limit: number) {
  return db<(ProductCustomerRow & { feed: string; rank: number; reason: string; computed_at: Date })[]>`
    select c.id as customer_id, c.external_id, c.first_name, c.last_name, c.email,
      l.feed, r.rank, r.reason, coalesce(rr.computed_at, l.computed_at) as computed_at
    from recommendation_lists l
    -- A list is rewritten only when it changes: the customer's last refresh is the runs' time.
    left join recommendation_runs rr on rr.customer_id = l.customer_id
    cross join lateral (
      select i.rank::integer as rank, i.score, i.reason
      from unnest(l.skus, l.scores, l.reasons) with ordinality as i (sku, score, reason, rank)
      where i.sku = ${sku}
    ) r
    join customers c on c.id = l.customer_id
    -- The containment test is what the GIN index on skus answers.
    where l.skus @> array[${sku}::text] and c.erased_at is null
    order by r.rank, r.score desc, c.id, l.feed
    limit ${limit}`;
}
