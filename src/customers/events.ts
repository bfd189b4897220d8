import type { Db } from '../db/sql.js';
import {
  type ContactEventRow,
  insertContactEvents,
  selectEventByClientRef,
  selectTimeline,
  type TimelinePosition,
} from './store.js';

export type { ContactEventRow } from './store.js';

/** Kinds people record by hand (sales, service); machines add sent, opened, clicked, purchase… */
export const INTERACTION_KINDS = [
  'note',
  'complaint',
  'call',
  'visit',
  'social',
  'email',
  'meeting',
] as const;
export const INTERACTION_CHANNELS = [
  'phone',
  'visit',
  'email',
  'facebook',
  'instagram',
  'whatsapp',
  'sms',
  'other',
] as const;

export interface ContactEventInput {
  customer_id: number;
  kind: string;
  channel?: string | null;
  text?: string | null;
  author?: string | null;
  message_id?: number | null;
  campaign_id?: number | null;
  trigger_id?: number | null;
  offer_id?: number | null;
  purchase_id?: number | null;
  /** Set for machine-generated signals (e.g. an open by a mail privacy proxy). */
  machine?: boolean;
  data?: Record<string, unknown>;
  /** Defaults to the database's now(). */
  at?: Date | string;
}

/**
 * Appends events to the one contact history, in one statement. Events that duplicate a unique
 * one (the conversion of a purchase) are skipped: only the new rows come back.
 */
export async function recordContactEvents(
  db: Db,
  events: readonly ContactEventInput[],
): Promise<ContactEventRow[]> {
  if (events.length === 0) return [];
  return insertContactEvents(db, JSON.stringify(events));
}

/** Appends one event to the contact history; undefined when it duplicates a unique event. */
export async function recordContactEvent(
  db: Db,
  event: ContactEventInput,
): Promise<ContactEventRow | undefined> {
  const [row] = await recordContactEvents(db, [event]);
  return row;
}

/** The interaction a client recorded earlier under its idempotency key, if any. */
export async function eventByClientRef(
  db: Db,
  customerId: number,
  clientRef: string,
): Promise<ContactEventRow | undefined> {
  return selectEventByClientRef(db, customerId, clientRef);
}

/** A page of a customer's history, newest first; `before` is the keyset position of the last row seen. */
export async function timelinePage(
  db: Db,
  input: {
    customerId: number;
    limit: number;
    before?: TimelinePosition | undefined;
    kinds?: string[] | undefined;
  },
): Promise<{ rows: ContactEventRow[]; next: TimelinePosition | null }> {
  const rows = await selectTimeline(db, input);
  const hasMore = rows.length > input.limit;
  const data = hasMore ? rows.slice(0, input.limit) : rows;
  const last = data[data.length - 1];
  return {
    rows: data.map(({ at_key: _key, source: _source, ...row }) => row),
    next: hasMore && last ? { at: last.at_key, id: last.id, source: last.source } : null,
  };
}
