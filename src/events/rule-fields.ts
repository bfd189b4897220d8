import { customerPrefix, registerFieldSource, registerRuleOperator } from '../rules/fields.js';
import { listEventTypes } from './types.js';

/*
 * Custom events in the rule field catalogue: the event types (as the values of `event_names`,
 * most recent first, with their counts) and the operators did_event / event_count, which work
 * in every scope (a trigger filter reads `customer.events`).
 */

/** Registers the event field source and operators (idempotent: a second call replaces them). */
export function registerEventRuleFields(): void {
  registerFieldSource({
    name: 'custom-events',
    async fields({ sql, scope, wants, once }) {
      const prefix = customerPrefix(scope);
      const path = `${prefix}event_names`;
      const values = wants(path)
        ? await once('event-types', async () =>
            (await listEventTypes(sql)).map((t) => ({ value: t.name, count: t.count })),
          )
        : undefined;
      return [
        {
          path,
          label: 'Events done (names)',
          type: 'string_array',
          group: 'Events',
          description: 'The names of the custom events the customer had (POST /v1/events)',
          ...(values ? { values, values_complete: true } : {}),
        },
        { path: `${prefix}events`, label: 'Events (newest first)', type: 'array', group: 'Events' },
      ];
    },
  });
  registerRuleOperator({
    op: 'did_event',
    label: 'Did event',
    sentence: 'did {event} in the last {days} days where {filter}',
    args: [
      { name: 'event', type: 'string', values_from: 'event_names' },
      { name: 'days', type: 'number' },
      { name: 'filter', type: 'object', optional: true },
    ],
    returns: 'boolean',
    example: { did_event: ['cart_updated', 7, { '>=': [{ var: 'value' }, 50] }] },
  });
  registerRuleOperator({
    op: 'event_count',
    label: 'Times event done',
    sentence: 'times {event} happened in the last {days} days',
    args: [
      { name: 'event', type: 'string', values_from: 'event_names' },
      { name: 'days', type: 'number' },
    ],
    returns: 'number',
    example: { '>=': [{ event_count: ['product_viewed', 30] }, 3] },
  });
}
