import { recordContactEvent } from '../customers/events.js';
import type { Db } from '../db/sql.js';
import { hasEnabledTriggers, type TriggerEvent } from '../triggers/events.js';
import { customerByHandle, upsertLead } from './store.js';

export interface SocialMessage {
  channel: string;
  handle: string;
  text: string;
  url?: string | undefined;
  at?: string | undefined;
}

export interface SocialResult {
  customer_id: number;
  matched: boolean;
  lead_created: boolean;
  event_id: number;
}

/** A handle as stored for matching: trimmed, lower case, without the leading @. */
export function normaliseHandle(handle: string): string {
  return handle.trim().replace(/^@+/, '').toLowerCase();
}

/**
 * Records a relayed social message: matched to the customer whose profile holds the handle for
 * that channel, or to a lead created for it (`social:<channel>:<handle>`); appended to the
 * contact history as `social`. Returns the trigger event to fire once committed. Pass a
 * transaction: the lead and the event go in together.
 */
export async function recordSocialMessage(
  tx: Db,
  input: SocialMessage,
): Promise<{ result: SocialResult; event: TriggerEvent }> {
  const channel = input.channel.toLowerCase();
  const handle = normaliseHandle(input.handle);
  const result = await (async () => {
    let customerId = await customerByHandle(tx, `${channel}:${handle}`);
    let leadCreated = false;
    if (customerId === undefined) {
      const lead = await upsertLead(tx, { externalId: `social:${channel}:${handle}`, channel, handle });
      customerId = lead.id;
      leadCreated = lead.created;
    }
    const event = await recordContactEvent(tx, {
      customer_id: customerId,
      kind: 'social',
      channel,
      text: input.text,
      author: `@${handle}`,
      data: { handle: `@${handle}`, ...(input.url ? { url: input.url } : {}) },
      ...(input.at ? { at: input.at } : {}),
    });
    return {
      customer_id: customerId,
      matched: !leadCreated && customerId !== undefined,
      lead_created: leadCreated,
      event_id: event!.id,
    };
  })();
  const event: TriggerEvent = {
    event: 'social_message',
    key: `social:${result.event_id}`,
    customer_id: result.customer_id,
    ...(input.at ? { at: input.at } : {}),
    data: {
      channel,
      handle: `@${handle}`,
      text: input.text,
      url: input.url ?? null,
      lead: result.lead_created,
    },
  };
  return { result, event };
}

/** The message's trigger event, when a social_message trigger is enabled (none otherwise). */
export async function socialTriggerEvents(db: Db, event: TriggerEvent): Promise<TriggerEvent[]> {
  return (await hasEnabledTriggers(db, 'social_message')) ? [event] : [];
}
