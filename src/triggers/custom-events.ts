import type { Db } from '../db/sql.js';
import type { TriggerEvent } from './events.js';

/*
 * Triggers on custom events (POST /v1/events): a trigger with event `event` fires on the
 * events named by its params.event_name; the event carries {name, properties, event_id}, which
 * the filter reads as `event.properties.…` and the email as `{{event.properties.…}}`.
 */

/** The key of a custom event's firing: one per stored event. */
export const customEventKey = (eventId: number) => `event:${eventId}`;

/** For a custom event, whether the trigger listens to its name (other events: always true). */
export function sameCustomEvent(
  trigger: { event: string; params: Record<string, unknown> },
  event: TriggerEvent,
) {
  return event.event !== 'event' || trigger.params.event_name === event.data?.name;
}

/**
 * The custom event names enabled triggers listen to, and journeys in play (entry, wait, goal:
 * their versions' `listens`, `event:<name>`): the trigger worker hands the events on to them.
 */
export async function customEventNamesWithTriggers(db: Db): Promise<Set<string>> {
  const rows = await db<{ name: string }[]>`
    select distinct params ->> 'event_name' as name from triggers
    where enabled and deleted_at is null and event = 'event'
    union
    select substring(k from 7) from journey_versions v join journeys j on j.id = v.journey_id,
      unnest(v.listens) as k
    where j.status in ('active', 'paused') and j.deleted_at is null and k like 'event:%'`;
  return new Set(rows.map((r) => r.name));
}

/** The trigger events of new custom events, for the names a trigger listens to. */
export async function customTriggerEvents(
  db: Db,
  created: readonly {
    event_id: number;
    customer_id: number;
    name: string;
    properties: Record<string, unknown>;
    at: string;
  }[],
): Promise<TriggerEvent[]> {
  if (created.length === 0) return [];
  const names = await customEventNamesWithTriggers(db);
  if (names.size === 0) return [];
  return created
    .filter((e) => names.has(e.name))
    .map((e) => ({
      event: 'event',
      key: customEventKey(e.event_id),
      customer_id: e.customer_id,
      at: e.at,
      data: { name: e.name, properties: e.properties, event_id: e.event_id },
    }));
}
