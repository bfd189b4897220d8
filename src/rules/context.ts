import type { Db } from '../db/sql.js';
import {
  type ContextProfile,
  type ContextRow,
  type RecentPurchaseRow,
  selectContextEvents,
  selectContextRows,
} from './store.js';

export type ContextPurchase = RecentPurchaseRow;

/** One custom event as rules see it (did_event, event_count). */
export interface ContextEvent {
  name: string;
  at: string;
  properties: Record<string, unknown>;
}

/**
 * What a rule sees for one customer: `var` paths address these fields (docs/rules.md).
 * Dates are ISO strings; `now` is the evaluation time the custom operators use.
 */
export interface CustomerContext extends ContextProfile {
  /** Free attributes; sensitive ones only with a granted consent for their purpose. */
  attributes: Record<string, unknown>;
  created_at: string;
  days_since_signup: number;
  erased: boolean;
  total_spent: number;
  orders_count: number;
  avg_order_value: number | null;
  first_purchase_at: string | null;
  last_purchase_at: string | null;
  days_since_last_purchase: number | null;
  spend_by_category: Record<string, number>;
  last_purchase_by_category: Record<string, string>;
  top_category: string | null;
  categories_bought: string[];
  /** Newest first, at most RECENT_PURCHASES.limit lines of the last RECENT_PURCHASES.days days. */
  recent_purchases: ContextPurchase[];
  /** Custom events (POST /v1/events), newest first (rules/store.ts CONTEXT_EVENTS bounds them). */
  events: ContextEvent[];
  /** The names of the customer's events, sorted. */
  event_names: string[];
  /** Purposes with a granted consent (latest decision per purpose). */
  consents: string[];
  now: string;
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

function toContext(row: ContextRow, now: Date, events: ContextEvent[]): CustomerContext {
  const granted = new Set(row.granted_purposes ?? []);
  const sensitive = row.sensitive_attributes ?? {};
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row.attributes ?? {})) {
    const purpose = Object.hasOwn(sensitive, key) ? sensitive[key] : undefined;
    if (purpose !== undefined && !granted.has(purpose)) continue;
    attributes[key] = value;
  }
  const lastByCategory: Record<string, string> = {};
  for (const [category, at] of Object.entries(row.last_purchase_by_category ?? {})) {
    lastByCategory[category] = iso(at) as string;
  }
  return {
    id: row.id,
    external_id: row.external_id,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    locale: row.locale,
    timezone: row.timezone,
    birth_date: row.birth_date,
    age: row.age,
    address: row.address,
    family: row.family,
    occupation: row.occupation,
    income_band: row.income_band,
    education: row.education,
    preferences: row.preferences,
    preferred_categories: row.preferred_categories,
    hobbies: row.hobbies,
    attributes,
    created_at: iso(row.created_at) as string,
    days_since_signup: row.days_since_signup,
    erased: row.erased_at !== null,
    total_spent: row.total_spent,
    orders_count: row.orders_count,
    avg_order_value: row.avg_order_value,
    first_purchase_at: iso(row.first_purchase_at),
    last_purchase_at: iso(row.last_purchase_at),
    days_since_last_purchase: row.days_since_last_purchase,
    spend_by_category: row.spend_by_category ?? {},
    last_purchase_by_category: lastByCategory,
    top_category: row.top_category,
    categories_bought: row.categories_bought ?? [],
    recent_purchases: (row.recent_purchases ?? []).map((p) => ({
      ...p,
      purchased_at: iso(p.purchased_at) as string,
    })),
    events,
    event_names: [...new Set(events.map((e) => e.name))].sort(),
    consents: [...granted].sort(),
    now: now.toISOString(),
  };
}

/** Contexts for many customers in one query; unknown ids are absent from the map. */
export async function buildContexts(
  sql: Db,
  customerIds: readonly number[],
  now: Date,
): Promise<Map<number, CustomerContext>> {
  const out = new Map<number, CustomerContext>();
  if (customerIds.length === 0) return out;
  const ids = [...new Set(customerIds)];
  const [rows, eventRows] = await Promise.all([
    selectContextRows(sql, ids, now),
    selectContextEvents(sql, ids, now),
  ]);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const eventsOf = new Map<number, ContextEvent[]>();
  for (const e of eventRows) {
    let list = eventsOf.get(Number(e.customer_id));
    if (!list) {
      list = [];
      eventsOf.set(Number(e.customer_id), list);
    }
    list.push({ name: e.name, at: e.at.toISOString(), properties: e.properties });
  }
  for (const id of customerIds) {
    const row = byId.get(id);
    if (row) out.set(id, toContext(row, now, eventsOf.get(id) ?? []));
  }
  return out;
}

/** The context of one customer, or undefined when there is no such customer. */
export async function buildContext(
  sql: Db,
  customerId: number,
  now: Date,
): Promise<CustomerContext | undefined> {
  return (await buildContexts(sql, [customerId], now)).get(customerId);
}
