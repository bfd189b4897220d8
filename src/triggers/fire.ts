import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db, Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { currentControlGroup } from '../holdouts/assign.js';
import { decideRecipients } from '../messages/recipients.js';
import { enqueueDelayedSends } from '../messages/send-jobs.js';
import type { LearningInput } from '../offers/decide.js';
import type { LearnedStats } from '../offers/learner.js';
import { learningFor, rankerView } from '../offers/learning.js';
import { loadLearnedStats } from '../offers/ranker-store.js';
import { compileRule } from '../rules/compile.js';
import { buildContexts } from '../rules/context.js';
import { sameCustomEvent } from './custom-events.js';
import type { TriggerEvent } from './events.js';
import { sendAtFor } from './schedule.js';
import {
  allocateMessageIds,
  cancelSupersededByPurchase,
  enabledTriggers,
  existingFirings,
  type FiringRow,
  insertFirings,
  type PurchaseFacts,
  purchasesByIds,
  readSettings,
  recentTriggerMessageCounts,
  type TriggerRow,
} from './store.js';

export interface FireDeps {
  sql: Sql;
  /** Absent on the edge: rows stay queued and the reconciler hands them over. */
  jobs?: JobDispatcher | undefined;
  clock: () => Date;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'>;
  logger?: Logger | undefined;
}

export interface FireResult {
  events: number;
  queued: number;
  suppressed: number;
  capped: number;
  /** Already fired for that event key, or the filter said no. */
  skipped: number;
  cancelled: number;
  /** The ids of the messages queued, in order. */
  message_ids: number[];
}

/** An event as triggers see it: purchase lines of one order grouped, its key and time settled. */
export interface NormalEvent {
  source: TriggerEvent;
  key: string;
  at: Date;
  data: Record<string, unknown>;
}

const purchaseView = (p: PurchaseFacts) => ({
  id: p.id,
  order_ref: p.order_ref,
  sku: p.sku,
  category: p.category,
  quantity: p.quantity,
  amount: p.amount,
  currency: p.currency,
  purchased_at: p.purchased_at.toISOString(),
});

/**
 * Purchase lines of one order are one purchase to a customer: they fire once, keyed by the
 * order (`order:<customer>:<ref>`), so re-importing any of its lines never fires again.
 */
export async function normalise(
  sql: Sql,
  events: readonly TriggerEvent[],
  now: Date,
): Promise<NormalEvent[]> {
  const purchaseIds = events
    .filter((e) => e.event === 'purchase' && e.purchase_id)
    .map((e) => e.purchase_id!);
  const purchases = new Map((await purchasesByIds(sql, purchaseIds)).map((p) => [p.id, p]));
  const out = new Map<string, NormalEvent>();
  for (const e of events) {
    if (e.event !== 'purchase') {
      const key = e.trigger_id ? `${e.trigger_id}|${e.key}` : e.key;
      out.set(key, {
        source: e,
        key: e.key,
        at: e.at ? new Date(e.at) : now,
        data: { type: e.event, key: e.key, ...e.data },
      });
      continue;
    }
    const p = e.purchase_id ? purchases.get(e.purchase_id) : undefined;
    if (!p) continue; // erased since, or never committed
    const key = p.order_ref ? `order:${p.customer_id}:${p.order_ref}` : e.key;
    const known = out.get(key);
    if (known) {
      const lines = known.data.lines as ReturnType<typeof purchaseView>[];
      lines.push(purchaseView(p));
      known.data.amount = (known.data.amount as number) + p.amount;
      if (p.purchased_at > known.at) known.at = p.purchased_at;
      continue;
    }
    out.set(key, {
      source: e,
      key,
      at: p.purchased_at,
      data: {
        type: 'purchase',
        key,
        purchase: purchaseView(p),
        lines: [purchaseView(p)],
        amount: p.amount,
        ...e.data,
      },
    });
  }
  return [...out.values()];
}

/** Whether a trigger's filter accepts the event; a filter that throws on this data is false. */
function accepts(trigger: TriggerRow, data: unknown, logger: Logger | undefined): boolean {
  if (trigger.filter === null || trigger.filter === undefined) return true;
  try {
    return Boolean(compileRule(trigger.filter)(data));
  } catch (error) {
    logger?.warn(
      { trigger: trigger.id, err: error instanceof Error ? error.message : String(error) },
      'trigger filter failed',
    );
    return false;
  }
}

/**
 * A trigger's learning ranker for a batch of its firings (undefined: it ranks by priority), as a
 * campaign's. Each customer's draws are seeded by the event that fired it, so a customer firing
 * the trigger again draws anew while a replayed event (or its preview) draws the same.
 */
export async function triggerLearning(
  sql: Sql,
  trigger: TriggerRow,
  firings: readonly { customer_id: number; event_key: string }[],
  stats?: (db: Db) => Promise<LearnedStats>,
): Promise<LearningInput | undefined> {
  const learning = await learningFor(sql, rankerView(trigger), {
    offersPerEmail: trigger.offers_per_email,
    seedKey: `trigger:${trigger.id}`,
    ...(stats ? { stats } : {}),
  });
  if (!learning) return undefined;
  const seeds = new Map<number, string>();
  for (const f of firings)
    if (!seeds.has(f.customer_id)) seeds.set(f.customer_id, `trigger:${trigger.id}:${f.event_key}`);
  return { ...learning, customerSeeds: seeds };
}

/**
 * Fires the enabled triggers that match these events: for each (trigger, event) whose filter
 * holds for `{event, customer}` and that has not fired for the event key, writes the firing and
 * its message (queued with decided offers and `send_at`, suppressed with the reason, or no
 * message when over the frequency cap) in one statement, then enqueues the send jobs, delayed
 * until `send_at` (job id = message id). Purchases also cancel pending cancel_on_purchase
 * messages fired before them. Idempotent per (trigger, event key).
 */
export async function fireTriggerEvents(
  deps: FireDeps,
  events: readonly TriggerEvent[],
): Promise<FireResult> {
  const { sql } = deps;
  const now = deps.clock();
  const result: FireResult = {
    events: events.length,
    queued: 0,
    suppressed: 0,
    capped: 0,
    skipped: 0,
    cancelled: 0,
    message_ids: [],
  };
  if (events.length === 0) return result;
  const buyers = [...new Set(events.filter((e) => e.event === 'purchase').map((e) => e.customer_id))];
  const types = [...new Set(events.map((e) => e.event))];
  const triggers = await enabledTriggers(sql, { events: types });
  const normal = triggers.length > 0 ? await normalise(sql, events, now) : [];

  const pairs: { trigger: TriggerRow; event: NormalEvent }[] = [];
  for (const event of normal) {
    for (const trigger of triggers) {
      if (trigger.event !== event.source.event || !sameCustomEvent(trigger, event.source)) continue;
      if (event.source.trigger_id !== undefined && event.source.trigger_id !== trigger.id) continue;
      pairs.push({ trigger, event });
    }
  }
  const fired = await existingFirings(
    sql,
    pairs.map((p) => ({ trigger_id: p.trigger.id, event_key: p.event.key })),
  );
  const fresh = pairs.filter((p) => !fired.has(`${p.trigger.id}|${p.event.key}`));
  result.skipped += pairs.length - fresh.length;

  const customerIds = [...new Set(fresh.map((p) => p.event.source.customer_id))];
  const contexts = await buildContexts(sql, customerIds, now);
  const matching = fresh.filter((p) => {
    const customer = contexts.get(p.event.source.customer_id);
    return customer !== undefined && accepts(p.trigger, { event: p.event.data, customer }, deps.logger);
  });
  result.skipped += fresh.length - matching.length;

  const rows: FiringRow[] = [];
  if (matching.length > 0) {
    const ids = [...new Set(matching.map((p) => p.event.source.customer_id))];
    const settings = await readSettings(sql);
    const counts = await recentTriggerMessageCounts(sql, { customerIds: ids, days: settings.days, now });
    // Oldest events first: when the cap bites, the earlier event is the one that gets its email.
    matching.sort((a, b) => a.event.at.getTime() - b.event.at.getTime() || a.trigger.id - b.trigger.id);
    // What was learned, read once for every trigger that ranks with the learner (if any does).
    let learned: Promise<LearnedStats> | undefined;
    const stats = (db: Db) => {
      learned ??= loadLearnedStats(db);
      return learned;
    };
    const decided = await decideRecipients(
      deps,
      matching.map((p) => ({ ...p, customer_id: p.event.source.customer_id })),
      {
        now,
        placements: (p) => p.trigger.offers_per_email,
        offerBatch: (p) => p.trigger.id,
        learning: (batch) =>
          triggerLearning(
            sql,
            batch[0]!.trigger,
            batch.map((p) => ({ customer_id: p.customer_id, event_key: p.event.key })),
            stats,
          ),
        holdout: {
          controlGroup: await currentControlGroup(sql, now),
          promotional: (p) => !p.trigger.transactional,
          own: (p) => ({ key: `trigger:${p.trigger.id}`, percent: p.trigger.holdout_percent }),
        },
        admit: (p) => {
          const n = counts.get(p.customer_id) ?? 0;
          if (n >= settings.max_messages) return 'capped';
          counts.set(p.customer_id, n + 1);
          return 'queued';
        },
      },
    );
    for (const {
      trigger,
      event,
      customer_id: customerId,
      status,
      suppressed_reason,
      offer_ids,
      held_out_offer_ids,
      ranker_cell,
    } of decided) {
      rows.push({
        trigger_id: trigger.id,
        event_key: event.key,
        customer_id: customerId,
        outcome: status,
        event_at: event.at.toISOString(),
        message_id: null,
        template_id: trigger.template_id,
        template_version: trigger.template_version,
        offer_ids,
        held_out_offer_ids,
        suppressed_reason,
        ranker_cell,
        send_at: sendAtFor(
          now,
          { delay_hours: Number(trigger.delay_hours), local_hour: trigger.local_hour },
          contexts.get(customerId)?.timezone ?? null,
        ).toISOString(),
      });
    }
    const messageIds = await allocateMessageIds(sql, rows.filter((r) => r.outcome !== 'capped').length);
    let next = 0;
    for (const row of rows) if (row.outcome !== 'capped') row.message_id = messageIds[next++]!;
  }

  const { inserted, cancelled } = await sql.begin(async (tx) => ({
    inserted: await insertFirings(tx, rows),
    // After the insert: a reminder fired by an older line of this same batch is cancelled too.
    cancelled: await cancelSupersededByPurchase(tx, buyers),
  }));
  const written = new Set(inserted.map((m) => m.id));
  for (const row of rows) {
    if (row.outcome === 'capped') result.capped += 1;
    else if (!written.has(row.message_id!)) result.skipped += 1;
    else if (row.outcome === 'suppressed') result.suppressed += 1;
  }
  result.cancelled = cancelled.length;
  const cancelledIds = new Set(cancelled);
  const queued = inserted.filter((m) => m.status === 'queued' && !cancelledIds.has(m.id));
  result.queued = queued.length;
  result.message_ids = queued.map((m) => m.id);
  if (deps.jobs) await enqueueDelayedSends(sql, deps.jobs, queued, now);
  return result;
}
