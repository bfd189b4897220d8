import type { Sql } from '../db/sql.js';
import { safeTimeZone } from '../triggers/schedule.js';
import { localDay, quietHoursEnd } from './quiet-hours.js';
import type { MessageCategory } from './schema.js';
import type { PolicySettings } from './settings.js';
import {
  type CountUnlessComplained,
  countSendIfUnchanged,
  countSends,
  dropByPolicy,
  holdByPolicy,
  policyFacts,
} from './store.js';

// The contact policy, applied once per send on the one path every ledger row takes (the
// sender, right after the claim): so a campaign, a trigger and a journey step are all under it
// without a copy of it. Order: quiet hours (hold, nothing counted), then the complaint
// suspension, the caps and priority, and the count (drop or count).

export type DropReason = 'daily_cap' | 'weekly_cap' | 'outranked' | 'complaint_suspension';

export type PolicyVerdict =
  | { action: 'send' }
  | { action: 'hold'; reason: 'quiet_hours'; until: Date }
  | { action: 'drop'; reason: DropReason }
  /** Someone settled the row meanwhile (a cancel): nothing to do. */
  | { action: 'gone' };

/** What the policy needs of a claimed row. */
export interface PolicySubject {
  id: number;
  customer_id: number;
  category: MessageCategory;
  priority: number;
  /** Already counted by an earlier claim of the same row (a retry): never counted twice. */
  policy_counted: boolean;
  timezone: string | null;
  settings: PolicySettings;
}

/**
 * The verdict on one facts snapshot, pure: which cap is reached, or whether the slots left are
 * all kept for higher-priority messages due now. Null: send.
 */
export function capVerdict(
  s: Pick<PolicySettings, 'daily_cap' | 'weekly_cap'>,
  facts: { day_sent: number; week_sent: number; outranking: number },
): DropReason | null {
  if (s.daily_cap !== null && facts.day_sent >= s.daily_cap) return 'daily_cap';
  if (s.weekly_cap !== null && facts.week_sent >= s.weekly_cap) return 'weekly_cap';
  const left = Math.min(
    s.daily_cap === null ? Number.POSITIVE_INFINITY : s.daily_cap - facts.day_sent,
    s.weekly_cap === null ? Number.POSITIVE_INFINITY : s.weekly_cap - facts.week_sent,
  );
  return facts.outranking >= left ? 'outranked' : null;
}

/**
 * Decides whether a claimed (`sending`) row goes out now, and writes what follows on its
 * ledger row: held rows are `queued` again with `send_at` at the end of the quiet hours,
 * dropped rows `suppressed` with the reason, sent ones counted for the customer's local day.
 * Under a cap, a send is counted only if the day's count is still the one it was decided on
 * (a compare-and-set), else it is decided again: any number of senders in parallel never let
 * more through than the caps, and no statement needs a transaction. `count` counts an
 * uncapped send unless its customer complained, saying whether they did (the sender passes a
 * batched one).
 */
export async function applyContactPolicy(
  sql: Sql,
  m: PolicySubject,
  now: Date,
  count: (input: CountUnlessComplained) => Promise<boolean> = async (input) =>
    (await countSends(sql, [input])).has(input.messageId),
): Promise<PolicyVerdict> {
  if (m.category !== 'promotional') return { action: 'send' };
  const s = m.settings;
  const zone = safeTimeZone(m.timezone ?? s.default_timezone);
  if (s.quiet_start_minute !== null && s.quiet_end_minute !== null) {
    const until = quietHoursEnd(now, zone, s.quiet_start_minute, s.quiet_end_minute);
    if (until) {
      const held = await holdByPolicy(sql, m.id, until, 'quiet_hours');
      return held ? { action: 'hold', reason: 'quiet_hours', until } : { action: 'gone' };
    }
  }
  // A retry of a row already counted: the decision was made, it stands.
  if (m.policy_counted) return { action: 'send' };
  const day = localDay(now, zone);
  const subject = { messageId: m.id, customerId: m.customer_id, day };
  if (s.daily_cap === null && s.weekly_cap === null) {
    // No cap: the complaint check (when the suspension is on) and the count are one statement,
    // shared with the sends of the same moment. Counted anyway, so that a cap set later sees it.
    if (await count({ ...subject, suspensionDays: s.complaint_suspension_days, now })) {
      await dropByPolicy(sql, m.id, 'complaint_suspension');
      return { action: 'drop', reason: 'complaint_suspension' };
    }
    return { action: 'send' };
  }
  // Each round reads the facts and decides. A round lost to a concurrent send of the same
  // customer means that send was counted: counts only grow, so the caps end the rounds.
  for (;;) {
    const facts = await policyFacts(sql, {
      messageId: m.id,
      customerId: m.customer_id,
      priority: m.priority,
      day,
      now,
      suspensionDays: s.complaint_suspension_days,
      countOutranking: true,
    });
    const reason: DropReason | null = facts.complained ? 'complaint_suspension' : capVerdict(s, facts);
    if (reason) {
      await dropByPolicy(sql, m.id, reason);
      return { action: 'drop', reason };
    }
    const counted = await countSendIfUnchanged(sql, { ...subject, daySent: facts.day_sent });
    if (counted === 'counted') return { action: 'send' };
    if (counted === 'gone') return { action: 'gone' };
  }
}
