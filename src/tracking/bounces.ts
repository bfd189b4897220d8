import { recordContactEvents } from '../customers/events.js';
import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { notFound } from '../http/problem.js';
import {
  type BounceTarget,
  countSoftBounces,
  findBounceTargetByMessage,
  findBounceTargetsByEmail,
} from './store.js';
import { suppressAddress } from './suppress.js';

export interface DeliveryFailure {
  message_id?: number | undefined;
  email?: string | undefined;
  type?: 'hard' | 'soft' | undefined;
  reason?: string | undefined;
  /** The SMTP enhanced status (5.1.1) or the provider's code, kept on the event. */
  status?: string | undefined;
  at?: string | undefined;
  /** Where the report came from: `api`, `dsn`, `ses`, `sendgrid`, `postmark`, `mailgun`. */
  source?: string | undefined;
}

export interface DeliveryFailureResult {
  events: number;
  customer_ids: number[];
  suppressed: boolean;
}

/**
 * Records a bounce or a complaint reported by an ESP webhook or a DSN parser, on the message
 * (or, given only an address, on each live customer with it). A hard bounce or a complaint
 * suppresses the address, even when no customer has it any more; a soft bounce does once the
 * customer has had SOFT_BOUNCE_LIMIT of them within SOFT_BOUNCE_WINDOW_DAYS (a mailbox full for
 * weeks is as dead as an unknown one, and receivers count mail sent to it against the sender).
 */
export async function recordDeliveryFailure(
  deps: Pick<AppDeps, 'sql' | 'config' | 'clock'>,
  kind: 'bounced' | 'complained',
  input: DeliveryFailure,
): Promise<DeliveryFailureResult> {
  return deps.sql.begin((tx) => recordDeliveryFailureIn(tx, deps, kind, input));
}

/** `recordDeliveryFailure` inside the caller's transaction. */
export async function recordDeliveryFailureIn(
  tx: Db,
  deps: Pick<AppDeps, 'config' | 'clock'>,
  kind: 'bounced' | 'complained',
  input: DeliveryFailure,
): Promise<DeliveryFailureResult> {
  const at = input.at ? new Date(input.at) : deps.clock();
  let targets: BounceTarget[];
  if (input.message_id !== undefined) {
    targets = await findBounceTargetByMessage(tx, input.message_id);
    if (targets.length === 0) throw notFound(`Message ${input.message_id}`);
  } else {
    targets = await findBounceTargetsByEmail(tx, input.email ?? '');
  }
  const data: Record<string, unknown> = {};
  if (input.type) data.type = input.type;
  if (input.reason) data.reason = input.reason;
  if (input.status) data.status = input.status;
  if (input.source) data.source = input.source;
  await recordContactEvents(
    tx,
    targets.map((t) => ({
      customer_id: t.customer_id,
      kind,
      message_id: t.message_id,
      campaign_id: t.campaign_id,
      trigger_id: t.trigger_id,
      data,
      at,
    })),
  );
  let suppress = kind === 'complained' || input.type === 'hard';
  let reason = kind === 'complained' ? 'complaint' : 'hard_bounce';
  const addresses = new Set<string>();
  if (input.email) addresses.add(input.email);
  for (const t of targets) if (t.email) addresses.add(t.email);
  if (!suppress && kind === 'bounced' && input.type === 'soft' && targets.length > 0) {
    const since = new Date(at.getTime() - deps.config.SOFT_BOUNCE_WINDOW_DAYS * 86_400_000);
    const counts = await countSoftBounces(
      tx,
      targets.map((t) => t.customer_id),
      since,
    );
    suppress = Math.max(0, ...counts.values()) >= deps.config.SOFT_BOUNCE_LIMIT;
    reason = 'soft_bounce';
  }
  if (suppress) {
    const source = input.source ?? 'webhook';
    for (const email of addresses) {
      await suppressAddress(tx, deps.config.OFFERFLOW_SECRET, { email, reason, source });
    }
  }
  return {
    events: targets.length,
    customer_ids: targets.map((t) => t.customer_id),
    suppressed: suppress && addresses.size > 0,
  };
}
