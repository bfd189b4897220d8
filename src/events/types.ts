import type { Db } from '../db/sql.js';
import type { EventType } from './schema.js';

// Event definitions: each name is seen automatically (count, first and last seen, property
// names with the JSON type first seen), and may be described (description, property types,
// sensitive flags) through POST /v1/event-types.

interface PropertyDef {
  type?: string | null;
  description?: string | null;
  sensitive?: boolean;
}

interface EventTypeRow {
  name: string;
  description: string | null;
  declared: boolean;
  properties: Record<string, PropertyDef>;
  count: string;
  first_seen_at: Date | null;
  last_seen_at: Date | null;
}

/** The JSON type of a property value, as event types list it. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' ? t : 'object';
}

/**
 * Counts new events per name and adds the property names not seen before (with the type of the
 * value that introduced them). One row per name per batch; a described property keeps its
 * declared type.
 */
export async function observeEventTypes(
  db: Db,
  events: readonly { name: string; properties: Record<string, unknown>; at: string }[],
): Promise<void> {
  if (events.length === 0) return;
  const byName = new Map<
    string,
    {
      count: number;
      first: string;
      last: string;
      firstMs: number;
      lastMs: number;
      properties: Record<string, PropertyDef>;
    }
  >();
  for (const e of events) {
    // Each time parsed once (four parses per event were a tenth of a 10,000-event batch).
    const ms = Date.parse(e.at);
    let seen = byName.get(e.name);
    if (!seen) {
      seen = { count: 0, first: e.at, last: e.at, firstMs: ms, lastMs: ms, properties: {} };
      byName.set(e.name, seen);
    }
    seen.count++;
    if (ms < seen.firstMs) {
      seen.first = e.at;
      seen.firstMs = ms;
    }
    if (ms > seen.lastMs) {
      seen.last = e.at;
      seen.lastMs = ms;
    }
    for (const key in e.properties) {
      if (Object.hasOwn(e.properties, key) && !(key in seen.properties))
        seen.properties[key] = { type: jsonType(e.properties[key]) };
    }
  }
  const rows = [...byName].map(([name, s]) => ({
    name,
    count: s.count,
    first_seen_at: s.first,
    last_seen_at: s.last,
    properties: s.properties,
  }));
  await db`
    -- Seen names: counts add up, new property names join the known ones. In name order, so two
    -- batches lock the same rows in the same order.
    insert into event_types (name, properties, count, first_seen_at, last_seen_at)
    select r.name, r.properties, r.count, r.first_seen_at, r.last_seen_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
      name text, properties jsonb, count bigint, first_seen_at timestamptz, last_seen_at timestamptz)
    order by r.name
    on conflict (name) do update set
      count = event_types.count + excluded.count,
      first_seen_at = least(event_types.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(event_types.last_seen_at, excluded.last_seen_at),
      properties = excluded.properties || event_types.properties,
      updated_at = now()`;
}

const toEventType = (row: EventTypeRow): EventType => ({
  name: row.name,
  description: row.description,
  declared: row.declared,
  properties: Object.entries(row.properties)
    .map(([name, p]) => ({
      name,
      type: p.type ?? null,
      description: p.description ?? null,
      sensitive: p.sensitive ?? false,
    }))
    .sort((a, b) => a.name.localeCompare(b.name)),
  count: Number(row.count),
  first_seen_at: row.first_seen_at?.toISOString() ?? null,
  last_seen_at: row.last_seen_at?.toISOString() ?? null,
});

/** Every event type, the most recently seen first (declared but never seen last). */
export async function listEventTypes(db: Db): Promise<EventType[]> {
  const rows = await db<EventTypeRow[]>`
    select name, description, declared, properties, count::text, first_seen_at, last_seen_at
    from event_types order by last_seen_at desc nulls last, name`;
  return rows.map(toEventType);
}

/** One event type by name. */
export async function getEventType(db: Db, name: string): Promise<EventType | undefined> {
  const [row] = await db<EventTypeRow[]>`
    select name, description, declared, properties, count::text, first_seen_at, last_seen_at
    from event_types where name = ${name}`;
  return row ? toEventType(row) : undefined;
}

/**
 * Describes an event type (creating it when never seen): the description replaces the old one
 * when given, each property given replaces its definition, others are kept. Returns it and
 * whether it was new.
 */
export async function declareEventType(
  db: Db,
  input: {
    name: string;
    description?: string | null | undefined;
    properties?: Record<string, PropertyDef> | undefined;
  },
): Promise<{ type: EventType; created: boolean }> {
  const props = input.properties ?? {};
  const [row] = await db<(EventTypeRow & { created: boolean })[]>`
    insert into event_types (name, description, properties, declared)
    values (${input.name}, ${input.description ?? null}, ${JSON.stringify(props)}::text::jsonb, true)
    on conflict (name) do update set
      description = case when ${input.description !== undefined} then excluded.description else event_types.description end,
      properties = event_types.properties || excluded.properties,
      declared = true,
      updated_at = now()
    returning name, description, declared, properties, count::text, first_seen_at, last_seen_at,
      (xmax = 0) as created`;
  return { type: toEventType(row!), created: row!.created };
}

/** The property names flagged sensitive, per event name (webhooks and readers leave them out). */
export async function sensitiveProperties(db: Db): Promise<Map<string, Set<string>>> {
  const rows = await db<{ name: string; key: string }[]>`
    select t.name, p.key from event_types t, jsonb_each(t.properties) as p(key, value)
    where (p.value ->> 'sensitive')::boolean`;
  const out = new Map<string, Set<string>>();
  for (const r of rows) {
    let set = out.get(r.name);
    if (!set) {
      set = new Set();
      out.set(r.name, set);
    }
    set.add(r.key);
  }
  return out;
}
