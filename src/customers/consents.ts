import type { Db } from '../db/sql.js';
import { type OptInPolicy, requestOptIns } from '../opt-in/requests.js';
import {
  type ConsentRow,
  insertChangedConsents,
  insertConsent,
  selectConsentHistory,
  selectLatestConsents,
} from './store.js';

export type { ConsentRow } from './store.js';

/** The purposes Offerflow itself checks; sensitive attributes add their own. */
export const KNOWN_PURPOSES = ['marketing_email', 'profiling'] as const;

export interface CurrentConsent {
  granted: boolean;
  source: string;
  at: Date;
}

/** Appends one decision to the consent ledger. */
export function recordConsent(
  db: Db,
  input: {
    customer_id: number;
    purpose: string;
    granted: boolean;
    source: string;
    text_version?: string | null | undefined;
    ip?: string | null | undefined;
    at: Date;
  },
): Promise<ConsentRow> {
  return insertConsent(db, {
    customer_id: input.customer_id,
    purpose: input.purpose,
    granted: input.granted,
    source: input.source,
    text_version: input.text_version ?? null,
    ip: input.ip ?? null,
    at: input.at,
  });
}

/**
 * The `consents: {purpose: bool}` shorthand of a customer upsert: appends only what changes.
 * Under double opt-in a marketing grant becomes a confirmation request instead.
 */
export async function applyConsentShorthand(
  db: Db,
  decisions: { customer_id: number; purpose: string; granted: boolean }[],
  source = 'customer_upsert',
  optIn?: OptInPolicy,
): Promise<void> {
  if (decisions.length === 0) return;
  const pending = (d: { purpose: string; granted: boolean }) =>
    optIn?.doubleOptIn === true && d.purpose === 'marketing_email' && d.granted;
  const now = decisions.filter((d) => !pending(d));
  if (now.length > 0) await insertChangedConsents(db, JSON.stringify(now), source);
  const later = decisions.filter(pending);
  if (optIn && later.length > 0) {
    await requestOptIns(
      db,
      optIn,
      later.map((d) => ({ customer_id: d.customer_id, source })),
    );
  }
}

/** A customer's consent history (newest first) and the current decision per purpose. */
export async function consentHistory(db: Db, customerId: number) {
  const history = await selectConsentHistory(db, customerId);
  const current: Record<string, CurrentConsent> = {};
  for (const row of history) {
    current[row.purpose] ??= { granted: row.granted, source: row.source, at: row.at };
  }
  return { history, current };
}

/**
 * The latest decision per purpose for each customer, in one query. A customer with no row for a
 * purpose has made no decision (the caller applies the legal basis).
 */
export async function latestConsents(
  db: Db,
  customerIds: readonly number[],
): Promise<Map<number, Record<string, CurrentConsent>>> {
  const out = new Map<number, Record<string, CurrentConsent>>();
  for (const id of customerIds) out.set(id, {});
  if (customerIds.length === 0) return out;
  for (const row of await selectLatestConsents(db, [...customerIds])) {
    out.get(row.customer_id)![row.purpose] = { granted: row.granted, source: row.source, at: row.at };
  }
  return out;
}
