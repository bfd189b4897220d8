import type { AppDeps } from '../deps.js';
import { trackingBuffer } from './event-buffer.js';
import { classifyClick, classifyOpen, type MachineSignal } from './machine.js';
import { messageLookup } from './message-lookup.js';
import { verifyToken } from './tokens.js';

export interface RequestInfo {
  userAgent: string | undefined;
  ip: string | undefined;
  method: string;
}

function signalData(signal: MachineSignal): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (signal.reason) data.machine_reason = signal.reason;
  if (signal.proxy) data.proxy = signal.proxy;
  return data;
}

/** Records an open for a valid pixel token; false when the token or its message is unknown. */
export async function trackOpen(deps: AppDeps, token: string, request: RequestInfo): Promise<boolean> {
  const claims = verifyToken(deps.config.OFFERFLOW_SECRET, 'open', token);
  if (!claims) return false;
  const message = await messageLookup(deps).get(claims.messageId);
  if (!message) return false;
  const at = deps.clock();
  const signal = classifyOpen({ ...request, sentAt: message.sent_at, at });
  trackingBuffer(deps).push({
    customer_id: message.customer_id,
    kind: 'opened',
    message_id: message.id,
    campaign_id: message.campaign_id,
    trigger_id: message.trigger_id,
    machine: signal.machine,
    data: signalData(signal),
    at,
  });
  return true;
}

/**
 * Records a click and returns the URL stored for that link of that message, or null (unknown
 * or tampered token, or a link the message does not have): the caller then answers 404.
 */
export async function trackClick(deps: AppDeps, token: string, request: RequestInfo): Promise<string | null> {
  const claims = verifyToken(deps.config.OFFERFLOW_SECRET, 'click', token);
  if (!claims) return null;
  const message = await messageLookup(deps).get(claims.messageId);
  const link = message?.links[String(claims.linkIndex)];
  if (!message || !link?.url || !/^https?:\/\//i.test(link.url)) return null;
  const at = deps.clock();
  const signal = classifyClick({ ...request, sentAt: message.sent_at, at });
  trackingBuffer(deps).push({
    customer_id: message.customer_id,
    kind: 'clicked',
    message_id: message.id,
    campaign_id: message.campaign_id,
    trigger_id: message.trigger_id,
    offer_id: link.offer_id ?? null,
    machine: signal.machine,
    data: { link: claims.linkIndex, url: link.url, ...signalData(signal) },
    at,
  });
  return link.url;
}
