import { invalid } from '../http/problem.js';
import { suppressionReasons } from '../messages/suppression.js';
import { decideOffers } from '../offers/decide.js';
import { compileRule } from '../rules/compile.js';
import { buildContexts } from '../rules/context.js';
import type { TriggerEvent } from './events.js';
import { type FireDeps, normalise, triggerLearning } from './fire.js';
import { sendAtFor } from './schedule.js';
import {
  existingFirings,
  latestOrderLineIds,
  readSettings,
  recentTriggerMessageCounts,
  type TriggerRow,
} from './store.js';

export interface TriggerPreview {
  /** Whether the event would fire the trigger for this customer now: a message queued. */
  fires: boolean;
  /** Why not, in the order checked (empty when it fires). */
  reasons: string[];
  event_key: string;
  /** The event as the filter sees it (`event` beside `customer`, the customer's rule context). */
  event: Record<string, unknown>;
  filter: { passed: boolean; error: string | null };
  already_fired: boolean;
  suppressed_reason: string | null;
  cap: { recent: number; max_messages: number; days: number; capped: boolean };
  send_at: string;
  offers: { offer_id: number; name: string; title: string }[];
}

/**
 * What a trigger would do for one customer and one event, without writing anything: the
 * filter's verdict, suppression, the frequency cap, whether that event fired it already, when
 * the email would go and with which offers. The event is the one given, or for a purchase
 * trigger the customer's latest order, as the trigger worker would see it.
 */
export async function previewTrigger(
  deps: Pick<FireDeps, 'sql' | 'clock' | 'config'>,
  trigger: TriggerRow,
  input: { customer_id: number; event?: Record<string, unknown> | undefined },
): Promise<TriggerPreview> {
  const { sql } = deps;
  const now = deps.clock();
  const customerId = input.customer_id;
  const customer = (await buildContexts(sql, [customerId], now)).get(customerId);
  if (!customer) throw invalid([{ path: 'customer_id', in: 'body', message: 'no such customer' }]);

  let event: { key: string; data: Record<string, unknown> };
  if (input.event !== undefined || trigger.event !== 'purchase') {
    const key = `preview:${trigger.event}`;
    event = { key, data: { type: trigger.event, key, ...input.event } };
  } else {
    const lines = await latestOrderLineIds(sql, customerId);
    if (lines.length === 0)
      throw invalid([
        { path: 'event', in: 'body', message: 'the customer has no purchase: give the event to try' },
      ]);
    const events: TriggerEvent[] = lines.map((id) => ({
      event: 'purchase',
      key: `purchase:${id}`,
      customer_id: customerId,
      purchase_id: id,
    }));
    const [order] = await normalise(sql, events, now);
    event = { key: order!.key, data: order!.data };
  }

  let filter: TriggerPreview['filter'] = { passed: true, error: null };
  if (trigger.filter !== null && trigger.filter !== undefined) {
    try {
      filter = { passed: Boolean(compileRule(trigger.filter)({ event: event.data, customer })), error: null };
    } catch (error) {
      filter = { passed: false, error: error instanceof Error ? error.message : String(error) };
    }
  }
  const [fired, settings, suppressions] = await Promise.all([
    existingFirings(sql, [{ trigger_id: trigger.id, event_key: event.key }]),
    readSettings(sql),
    suppressionReasons(sql, deps.config, [customerId]),
  ]);
  const recent =
    (await recentTriggerMessageCounts(sql, { customerIds: [customerId], days: settings.days, now })).get(
      customerId,
    ) ?? 0;
  const suppressed = suppressions.has(customerId) ? suppressions.get(customerId)! : 'erased';
  const capped = recent >= settings.max_messages;
  const alreadyFired = fired.size > 0;

  const reasons: string[] = [];
  if (!trigger.enabled) reasons.push('disabled');
  if (!filter.passed) reasons.push('filter');
  if (alreadyFired) reasons.push('already_fired');
  if (suppressed) reasons.push(suppressed);
  else if (capped) reasons.push('capped');
  const fires = reasons.length === 0;
  // Ranked as the firing would rank: the trigger's ranker, the event's seed.
  const learning = fires
    ? await triggerLearning(sql, trigger, [{ customer_id: customerId, event_key: event.key }])
    : undefined;
  const decision =
    fires && trigger.offers_per_email > 0
      ? await decideOffers(sql, {
          customerId,
          placements: trigger.offers_per_email,
          now,
          ...(learning ? { learning } : {}),
        })
      : undefined;
  return {
    fires,
    reasons,
    event_key: event.key,
    event: event.data,
    filter,
    already_fired: alreadyFired,
    suppressed_reason: suppressed,
    cap: { recent, max_messages: settings.max_messages, days: settings.days, capped },
    send_at: sendAtFor(
      now,
      { delay_hours: Number(trigger.delay_hours), local_hour: trigger.local_hour },
      customer.timezone ?? null,
    ).toISOString(),
    offers: (decision?.offers ?? []).map((o) => ({ offer_id: o.offer_id, name: o.name, title: o.title })),
  };
}
