import { recordContactEvents } from '../customers/events.js';
import type { AppDeps } from '../deps.js';
import { notFound } from '../http/problem.js';
import { type BounceTarget, findBounceTargetByMessage, findBounceTargetsByEmail } from './store.js';
import { suppressAddress } from './suppress.js';

export interface DeliveryFailure {
  message_id?: number | undefined;
  email?: string | undefined;
  type?: 'hard' | 'soft' | undefined;
  reason?: string | undefined;
  at?: string | undefined;
}

export interface DeliveryFailureResult {
  events: number;
  customer_ids: number[];
  suppressed: boolean;
}

/**
 * Records a bounce or a complaint reported by an ESP webhook or a DSN parser, on the message
 * (or, given only an address, on each live customer with it). A hard bounce or a complaint
 * suppresses the address, even when no customer has it any more.
 */
export async function recordDeliveryFailure(
  deps: AppDeps,
  kind: 'bounced' | 'complained',
  input: DeliveryFailure,
): Promise<DeliveryFailureResult> {
  const at = input.at ? new Date(input.at) : deps.clock();
  return deps.sql.begin(async (tx) => {
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
    const suppress = kind === 'complained' || input.type === 'hard';
    const addresses = new Set<string>();
    if (input.email) addresses.add(input.email);
    for (const t of targets) if (t.email) addresses.add(t.email);
    if (suppress) {
      const reason = kind === 'complained' ? 'complaint' : 'hard_bounce';
      for (const email of addresses) {
        await suppressAddress(tx, deps.config.OFFERFLOW_SECRET, { email, reason, source: 'webhook' });
      }
    }
    return {
      events: targets.length,
      customer_ids: targets.map((t) => t.customer_id),
      suppressed: suppress && addresses.size > 0,
    };
  });
}
