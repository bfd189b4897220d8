import { PROFILE_COLUMNS } from '../customers/schema.js';

/**
 * What Offerflow holds on a person that identifies them or describes them, per table. Erasure
 * clears exactly these columns and the export lists exactly these (plus the pseudonymous facts
 * kept for reports): one list, so the two cannot drift apart (a test checks both against it).
 */
export const PERSONAL_FIELDS = {
  /** external_id and every profile column a client may write: a new column is personal until argued otherwise. */
  customers: ['external_id', ...PROFILE_COLUMNS],
  consents: ['ip', 'source', 'text_version'],
  contact_events: ['text', 'author', 'data'],
  messages: ['error', 'smtp_reply'],
} as const;

export type PersonalTable = keyof typeof PERSONAL_FIELDS;

/**
 * Keys of contact_events.data that are facts, not descriptions of the person: amounts and
 * categories for reports, the link index, the machine-open classification. Erasure and
 * retention keep only these.
 */
export const FACT_DATA_KEYS = [
  'amount',
  'revenue',
  'currency',
  'quantity',
  'category',
  'sku',
  'order_ref',
  'touch',
  'link',
  'type',
  'source',
  'machine_reason',
  'proxy',
] as const;

/** What an erased consent's `source` becomes (the column is required; the free text is personal). */
export const ERASED_SOURCE = 'erased';

/** The pseudonym an erased customer's external_id becomes (unique, says nothing). */
export const erasedExternalId = (id: number) => `erased:${id}`;
