import type { Context } from 'hono';
import type { Db } from '../db/sql.js';
import type { AppEnv } from './env.js';

export interface AuditEntry {
  /** What happened, `entity.verb`: `customer.read`, `customer.update`, `consent.create`… */
  action: string;
  entity: string;
  entity_id?: string | number | null;
  customer_id?: number | null;
  /** What changed or was asked: field names and counts, never the personal values themselves. */
  data?: Record<string, unknown>;
}

/**
 * Writes audit rows naming the API key and request. Pass the request's transaction for a change
 * so the audit row commits (or not) with it; reads are audited on the pool.
 */
export async function audit<E extends AppEnv>(
  c: Context<E>,
  entries: AuditEntry | AuditEntry[],
  db?: Db,
): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  if (list.length === 0) return;
  const auth = c.var.auth;
  const rows = list.map((e) => ({
    api_key_id: auth?.keyId ?? null,
    user_id: auth?.userId ?? null,
    actor: auth?.name ?? null,
    action: e.action,
    entity: e.entity,
    entity_id: e.entity_id === undefined || e.entity_id === null ? null : String(e.entity_id),
    customer_id: e.customer_id ?? null,
    request_id: c.var.requestId ?? null,
    data: e.data ?? {},
  }));
  const sql = db ?? c.var.deps.sql;
  await sql`
    insert into audit_log (api_key_id, user_id, actor, action, entity, entity_id, customer_id, request_id, data)
    select r.api_key_id, r.user_id, r.actor, r.action, r.entity, r.entity_id, r.customer_id, r.request_id, r.data
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(api_key_id bigint, user_id bigint, actor text,
      action text, entity text, entity_id text, customer_id bigint, request_id text, data jsonb)`;
}
