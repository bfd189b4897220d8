import { isComplete, selectCategoryCounts } from '../rules/field-values.js';
import type { FieldSource, FieldType, RuleField } from '../rules/fields.js';
import { TRIGGER_EVENTS } from './schema.js';

/*
 * The event side of a trigger filter's `{event, customer}`: the fields each event carries, as
 * triggers/fire.ts and triggers/scan.ts build them. A filter reading a field its event does not
 * carry is a warning on save (rules/warnings.ts).
 */

type EventField = { path: string; label: string; type: FieldType; categories?: boolean };

const COMMON: EventField[] = [
  { path: 'event.type', label: 'Event type', type: 'string' },
  { path: 'event.key', label: 'Event key', type: 'string' },
];

const PURCHASE_LINE = (prefix: string, label: string): EventField[] => [
  { path: `${prefix}.category`, label: `${label} category`, type: 'string', categories: true },
  { path: `${prefix}.sku`, label: `${label} SKU`, type: 'string' },
  { path: `${prefix}.amount`, label: `${label} amount`, type: 'number' },
  { path: `${prefix}.quantity`, label: `${label} quantity`, type: 'number' },
  { path: `${prefix}.currency`, label: `${label} currency`, type: 'string' },
  { path: `${prefix}.order_ref`, label: `${label} order reference`, type: 'string' },
  { path: `${prefix}.purchased_at`, label: `${label} date`, type: 'date' },
];

export const EVENT_FIELDS: Record<(typeof TRIGGER_EVENTS)[number], EventField[]> = {
  purchase: [
    { path: 'event.amount', label: 'Order amount', type: 'number' },
    ...PURCHASE_LINE('event.purchase', 'First line'),
    { path: 'event.lines', label: 'Order lines', type: 'array' },
  ],
  customer_created: [],
  inactive_for: [
    { path: 'event.days', label: 'Days without a purchase', type: 'number' },
    { path: 'event.last_purchase_at', label: 'Last purchase', type: 'date' },
  ],
  birthday: [],
  date_attribute: [
    { path: 'event.attribute', label: 'Attribute', type: 'string' },
    { path: 'event.date', label: 'Date', type: 'date' },
    { path: 'event.offset_days', label: 'Offset (days)', type: 'number' },
  ],
  event: [
    { path: 'event.name', label: 'Event name', type: 'string' },
    { path: 'event.properties', label: 'Event properties', type: 'object' },
    { path: 'event.event_id', label: 'Event id', type: 'number' },
  ],
  social_message: [
    { path: 'event.channel', label: 'Channel', type: 'string' },
    { path: 'event.handle', label: 'Handle', type: 'string' },
    { path: 'event.text', label: 'Message text', type: 'string' },
    { path: 'event.url', label: 'Message URL', type: 'string' },
    { path: 'event.lead', label: 'From a new lead', type: 'boolean' },
  ],
};

/** Event fields of a trigger's event (all events' when none is given, each labelled with it). */
export const triggerEventFields: FieldSource = {
  name: 'trigger-events',
  scopes: ['trigger'],
  async fields({ sql, event, wants, once, sampleRows }) {
    const events = TRIGGER_EVENTS.filter((e) => event === undefined || e === event);
    const needsCategories = events.some((e) => EVENT_FIELDS[e].some((f) => f.categories && wants(f.path)));
    const categories = needsCategories
      ? await once('categories', () => selectCategoryCounts(sql, 500, sampleRows))
      : [];
    const out: RuleField[] = [];
    const seen = new Set<string>();
    for (const name of events) {
      for (const f of [...COMMON, ...EVENT_FIELDS[name]]) {
        if (seen.has(f.path)) continue;
        seen.add(f.path);
        const field: RuleField = { path: f.path, label: f.label, type: f.type, group: `Event: ${name}` };
        if (f.categories && needsCategories) {
          field.values = categories;
          field.values_complete = isComplete(categories, 500);
        }
        out.push(field);
      }
    }
    return out;
  },
};

/** The event field paths each trigger event carries (for the warnings). */
export const eventFieldPaths = (event: string): string[] | undefined => {
  const fields = (EVENT_FIELDS as Record<string, EventField[]>)[event];
  return fields ? [...COMMON, ...fields].map((f) => f.path) : undefined;
};
