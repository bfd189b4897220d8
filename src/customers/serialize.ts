import type { Customer } from './schema.js';
import type { ConsentRow, ContactEventRow, CustomerRow } from './store.js';

const iso = (d: Date) => d.toISOString();

/** A customers row as the API shows it (dates as ISO strings, birth date as YYYY-MM-DD). */
export function toCustomer(row: CustomerRow): Customer {
  return {
    id: row.id,
    external_id: row.external_id,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    locale: row.locale,
    timezone: row.timezone,
    birth_date: row.birth_date ? iso(row.birth_date).slice(0, 10) : null,
    address: row.address,
    family: row.family,
    occupation: row.occupation,
    income_band: row.income_band,
    education: row.education,
    preferences: row.preferences,
    preferred_categories: row.preferred_categories,
    hobbies: row.hobbies,
    social_handles: row.social_handles,
    attributes: row.attributes,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    erased_at: row.erased_at ? iso(row.erased_at) : null,
  };
}

export function toConsent(row: ConsentRow) {
  return {
    id: row.id,
    purpose: row.purpose,
    granted: row.granted,
    source: row.source,
    text_version: row.text_version,
    ip: row.ip,
    at: iso(row.at),
  };
}

export function toContactEvent(row: ContactEventRow) {
  return {
    id: row.id,
    customer_id: row.customer_id,
    kind: row.kind,
    channel: row.channel,
    text: row.text,
    author: row.author,
    message_id: row.message_id,
    campaign_id: row.campaign_id,
    trigger_id: row.trigger_id,
    offer_id: row.offer_id,
    purchase_id: row.purchase_id,
    machine: row.machine,
    data: row.data,
    at: iso(row.at),
  };
}
