import type { Db, Sql } from '../db/sql.js';
import { invalid, notFound } from '../http/problem.js';
import { rankerColumns, rankerView } from '../offers/learning.js';
import type { MessageCategory } from '../policy/schema.js';
import { assertSensitiveUseDeclared } from '../privacy/guard.js';
import { assertValidRule } from '../rules/compile.js';
import { senderExists } from '../senders/store.js';
import type { TriggerCreate, TriggerPatch } from './schema.js';
import {
  cancelPendingOfTrigger,
  findTrigger,
  insertTrigger,
  markTriggerDeleted,
  type TriggerRow,
  type TriggerWrite,
  templateLatest,
  templateVersionExists,
  updateTriggerFields,
} from './store.js';

/** The API shape of a trigger. */
export function triggerView(row: TriggerRow) {
  return {
    id: row.id,
    name: row.name,
    event: row.event,
    params: row.params,
    filter: row.filter ?? null,
    delay: { hours: Number(row.delay_hours), at_local_hour: row.local_hour },
    template_id: row.template_id,
    template_version: row.template_version,
    offers_per_email: row.offers_per_email,
    sender_id: row.sender_id,
    cancel_on_purchase: row.cancel_on_purchase,
    holdout_percent: row.holdout_percent,
    ranker: rankerView(row),
    transactional: row.transactional,
    category: row.category,
    priority: row.priority,
    enabled: row.enabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Params kept for the event (others dropped, so a changed event does not carry stale ones). */
function paramsFor(event: TriggerRow['event'], params: Record<string, unknown>): Record<string, unknown> {
  if (event === 'inactive_for') return { days: params.days };
  if (event === 'event') return { event_name: params.event_name };
  if (event === 'date_attribute')
    return { attribute: params.attribute, offset_days: params.offset_days ?? 0 };
  return {};
}

/** Validates the merged write: rule, privacy purposes, template version (pinned when absent). */
async function checkWrite(
  tx: Db,
  w: Omit<TriggerWrite, 'template_version'> & { template_version: number | null },
): Promise<TriggerWrite> {
  if (w.filter !== null && w.filter !== undefined) {
    assertValidRule(w.filter, 'filter');
    await assertSensitiveUseDeclared(tx, [{ rule: w.filter, field: 'filter' }]);
  }
  if (w.sender_id !== null && !(await senderExists(tx, w.sender_id)))
    throw invalid([{ path: 'sender_id', in: 'body', message: `no sender ${w.sender_id}` }]);
  const latest = await templateLatest(tx, w.template_id);
  if (latest === undefined) throw invalid([{ path: 'template_id', in: 'body', message: 'no such template' }]);
  let version = w.template_version;
  if (version === null) {
    if (latest < 1)
      throw invalid([{ path: 'template_id', in: 'body', message: 'the template has no version yet' }]);
    version = latest;
  } else if (!(await templateVersionExists(tx, w.template_id, version))) {
    throw invalid([{ path: 'template_version', in: 'body', message: 'no such version of the template' }]);
  }
  if (w.event === 'inactive_for' && typeof w.params.days !== 'number') {
    throw invalid([{ path: 'params.days', in: 'body', message: 'inactive_for needs days' }]);
  }
  if (w.event === 'event' && typeof w.params.event_name !== 'string') {
    throw invalid([{ path: 'params.event_name', in: 'body', message: 'event needs event_name' }]);
  }
  if (w.event === 'date_attribute' && typeof w.params.attribute !== 'string') {
    throw invalid([{ path: 'params.attribute', in: 'body', message: 'date_attribute needs attribute' }]);
  }
  return { ...w, params: paramsFor(w.event, w.params), template_version: version };
}

/**
 * A trigger's category and the older `transactional` flag, kept in agreement: either may be
 * given (both only if they agree, else 422 naming `transactional`); absent, `current` stands.
 */
function categoryOf(
  input: { category?: MessageCategory | undefined; transactional?: boolean | undefined },
  current: { category: MessageCategory; transactional: boolean },
): { category: MessageCategory; transactional: boolean } {
  if (input.category !== undefined) {
    if (input.transactional !== undefined && input.transactional !== (input.category === 'transactional'))
      throw invalid([
        { path: 'transactional', in: 'body', message: `disagrees with category ${input.category}` },
      ]);
    return { category: input.category, transactional: input.category === 'transactional' };
  }
  if (input.transactional === undefined)
    return { category: current.category, transactional: current.transactional };
  if (input.transactional) return { category: 'transactional', transactional: true };
  return {
    category: current.category === 'transactional' ? 'promotional' : current.category,
    transactional: false,
  };
}

/** Creates a trigger, with its template version pinned. */
export async function createTrigger(sql: Sql, input: TriggerCreate): Promise<TriggerRow> {
  return sql.begin(async (tx) => {
    const write = await checkWrite(tx, {
      name: input.name,
      event: input.event,
      params: input.params ?? {},
      filter: input.filter ?? null,
      delay_hours: input.delay?.hours ?? 0,
      local_hour: input.delay?.at_local_hour ?? null,
      template_id: input.template_id,
      template_version: input.template_version ?? null,
      offers_per_email: input.offers_per_email ?? 0,
      sender_id: input.sender_id ?? null,
      cancel_on_purchase: input.cancel_on_purchase ?? false,
      holdout_percent: input.holdout_percent ?? 0,
      ...rankerColumns(input.ranker),
      ...categoryOf(input, { transactional: false, category: 'promotional' }),
      priority: input.priority ?? 0,
      enabled: input.enabled ?? true,
    });
    return insertTrigger(tx, write);
  });
}

/**
 * Edits a trigger. Changing the template without a version pins the new template's latest.
 * Disabling it cancels its messages not sent yet.
 */
export async function updateTrigger(sql: Sql, id: number, patch: TriggerPatch): Promise<TriggerRow> {
  return sql.begin(async (tx) => {
    const row = await findTrigger(tx, id, true);
    if (!row) throw notFound(`Trigger ${id}`);
    const templateChanged = patch.template_id !== undefined && patch.template_id !== row.template_id;
    const write = await checkWrite(tx, {
      name: patch.name ?? row.name,
      event: patch.event ?? row.event,
      params: patch.params ?? row.params,
      filter: patch.filter === undefined ? row.filter : patch.filter,
      delay_hours: patch.delay?.hours ?? (patch.delay ? 0 : Number(row.delay_hours)),
      local_hour: patch.delay ? (patch.delay.at_local_hour ?? null) : row.local_hour,
      template_id: patch.template_id ?? row.template_id,
      template_version: patch.template_version ?? (templateChanged ? null : row.template_version),
      offers_per_email: patch.offers_per_email ?? row.offers_per_email,
      sender_id: patch.sender_id === undefined ? row.sender_id : patch.sender_id,
      cancel_on_purchase: patch.cancel_on_purchase ?? row.cancel_on_purchase,
      holdout_percent: patch.holdout_percent ?? row.holdout_percent,
      ...rankerColumns(patch.ranker, row),
      ...categoryOf(patch, row),
      priority: patch.priority ?? row.priority,
      enabled: patch.enabled ?? row.enabled,
    });
    const updated = await updateTriggerFields(tx, id, write);
    if (row.enabled && !updated.enabled) await cancelPendingOfTrigger(tx, id);
    return updated;
  });
}

/** Deletes a trigger (soft: its history stays) and cancels its messages not sent yet. */
export async function deleteTrigger(sql: Sql, id: number): Promise<void> {
  await sql.begin(async (tx) => {
    if (!(await markTriggerDeleted(tx, id))) throw notFound(`Trigger ${id}`);
    await cancelPendingOfTrigger(tx, id);
  });
}
