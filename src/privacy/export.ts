import type { Db } from '../db/sql.js';
import { PERSONAL_FIELDS } from './personal-data.js';
import { selectLinkedLeads, selectPersonalData } from './store.js';

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : value);

/** Rows as JSON: dates as ISO strings (birth_date as YYYY-MM-DD), everything else as stored. */
function plain(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = key === 'birth_date' && value instanceof Date ? value.toISOString().slice(0, 10) : iso(value);
  }
  return out;
}

export interface LeadExport {
  customer: Record<string, unknown>;
  consents: Record<string, unknown>[];
  contact_events: Record<string, unknown>[];
  purchases: Record<string, unknown>[];
  messages: Record<string, unknown>[];
  offer_impressions: Record<string, unknown>[];
}

type PersonalRows = NonNullable<Awaited<ReturnType<typeof selectPersonalData>>>;

const sections = (data: PersonalRows): LeadExport => ({
  customer: plain(data.customer),
  consents: data.consents.map(plain),
  contact_events: data.events.map(plain),
  purchases: data.purchases.map(plain),
  messages: data.messages.map(plain),
  offer_impressions: data.impressions.map(plain),
});

export interface PersonalDataExport {
  exported_at: string;
  customer: Record<string, unknown>;
  consents: Record<string, unknown>[];
  contact_events: Record<string, unknown>[];
  purchases: Record<string, unknown>[];
  messages: Record<string, unknown>[];
  offer_impressions: Record<string, unknown>[];
  /** Who read or changed this person's data (the audit log). */
  access_log: Record<string, unknown>[];
  /**
   * Leads made for the person's social handles before the profile held them (messages from
   * those handles), each with its own sections; erasure erases them too.
   */
  linked_leads: LeadExport[];
  /** Per section, the fields that erasure clears; the rest are pseudonymous facts it keeps. */
  erasure: { clears: Record<string, string[]>; keeps: string };
}

/**
 * Everything held on one person as one JSON document (right of access, portability). Its
 * `erasure.clears` names exactly what DELETE /v1/customers/{id} removes (PERSONAL_FIELDS).
 * Undefined when there is no such customer.
 */
export async function exportPersonalData(
  db: Db,
  customerId: number,
  now: Date,
): Promise<PersonalDataExport | undefined> {
  const data = await selectPersonalData(db, customerId);
  if (!data) return undefined;
  const leads: LeadExport[] = [];
  for (const id of await selectLinkedLeads(db, customerId)) {
    const lead = await selectPersonalData(db, id);
    if (lead) leads.push(sections(lead));
  }
  return {
    exported_at: now.toISOString(),
    ...sections(data),
    access_log: data.access.map(plain),
    linked_leads: leads,
    erasure: {
      clears: {
        customer: [...PERSONAL_FIELDS.customers],
        consents: [...PERSONAL_FIELDS.consents],
        contact_events: [...PERSONAL_FIELDS.contact_events],
        messages: [...PERSONAL_FIELDS.messages],
      },
      keeps:
        'ids, purchases (amounts, categories), message statuses, event kinds and times, consent decisions (purpose, grant, time), the audit log (ids and field names, never values), and a keyed hash of the address in the suppression list',
    },
  };
}
