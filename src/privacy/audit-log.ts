import type { Db } from '../db/sql.js';
import { type AuditRow, selectAuditPage } from './store.js';

export type { AuditRow } from './store.js';

export interface AuditFilter {
  customerId?: number | undefined;
  entity?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
}

/** A page of the audit log, newest first; `beforeId` is the keyset position. */
export function auditPage(db: Db, filter: AuditFilter & { beforeId?: number | undefined; limit: number }) {
  return selectAuditPage(db, filter);
}

/** An audit row as the API shows it. */
export const toAuditEntry = (row: AuditRow) => ({
  id: row.id,
  at: row.at.toISOString(),
  api_key_id: row.api_key_id,
  actor: row.actor,
  action: row.action,
  entity: row.entity,
  entity_id: row.entity_id,
  customer_id: row.customer_id,
  request_id: row.request_id,
  data: row.data,
});
