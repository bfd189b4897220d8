import type { TriggerEvent } from './events.js';
import { type FireDeps, type FireResult, fireTriggerEvents } from './fire.js';
import { reconcileTriggerMessages } from './reconcile.js';
import {
  birthdayCustomers,
  dateAttributeCustomers,
  enabledTriggers,
  inactiveCustomers,
  type TriggerRow,
} from './store.js';

export interface ScanResult {
  triggers: number;
  fired: number;
  capped: number;
  suppressed: number;
  /** Lost send jobs handed to the queue again. */
  reenqueued: number;
}

const PAGE = 1000;

/** One page of a scheduled trigger's events after a customer id; empty at the end. */
async function eventPage(
  deps: FireDeps,
  trigger: TriggerRow,
  now: Date,
  afterId: number,
): Promise<TriggerEvent[]> {
  const base = { trigger_id: trigger.id, at: now.toISOString() };
  if (trigger.event === 'inactive_for') {
    const days = Number(trigger.params.days);
    const rows = await inactiveCustomers(deps.sql, {
      triggerId: trigger.id,
      days,
      now,
      afterId,
      limit: PAGE,
    });
    return rows.map((r) => ({
      ...base,
      event: 'inactive_for',
      key: `inactive_for:${r.customer_id}:${r.last_purchase_id}`,
      customer_id: r.customer_id,
      data: { days, last_purchase_at: r.last_purchase_at.toISOString() },
    }));
  }
  if (trigger.event === 'birthday') {
    const rows = await birthdayCustomers(deps.sql, { now, afterId, limit: PAGE });
    return rows.map((r) => ({
      ...base,
      event: 'birthday',
      key: `birthday:${r.customer_id}:${r.local_year}`,
      customer_id: r.customer_id,
    }));
  }
  const attribute = String(trigger.params.attribute);
  const offsetDays = Number(trigger.params.offset_days ?? 0);
  const rows = await dateAttributeCustomers(deps.sql, { attribute, offsetDays, now, afterId, limit: PAGE });
  return rows.map((r) => ({
    ...base,
    event: 'date_attribute',
    key: `date_attribute:${r.customer_id}:${attribute}:${r.date}`,
    customer_id: r.customer_id,
    data: { attribute, date: r.date, offset_days: offsetDays },
  }));
}

/**
 * The periodic scan (the trigger worker's repeatable job): fires inactive_for, birthday and
 * date_attribute triggers for the customers due at the clock's now, page by page. Event keys
 * (`birthday:<customer>:<year>`…) make running it often, or on several workers, harmless. It
 * also hands trigger messages whose job Redis lost back to the send queue.
 */
export async function scanScheduledTriggers(deps: FireDeps): Promise<ScanResult> {
  const now = deps.clock();
  const triggers = await enabledTriggers(deps.sql, {
    events: ['inactive_for', 'birthday', 'date_attribute'],
  });
  const result: ScanResult = { triggers: triggers.length, fired: 0, capped: 0, suppressed: 0, reenqueued: 0 };
  for (const trigger of triggers) {
    let afterId = 0;
    for (;;) {
      const events = await eventPage(deps, trigger, now, afterId);
      if (events.length === 0) break;
      const fired: FireResult = await fireTriggerEvents(deps, events);
      result.fired += fired.queued;
      result.capped += fired.capped;
      result.suppressed += fired.suppressed;
      afterId = events[events.length - 1]!.customer_id;
      if (events.length < PAGE) break;
    }
  }
  if (deps.jobs) result.reenqueued = await reconcileTriggerMessages({ ...deps, jobs: deps.jobs });
  return result;
}
