import { createHash } from 'node:crypto';
import type { DeliveryReport } from '../apply.js';
import { messageIdOf, obj, parseJson, refused, sameSecret, str, type VerifiedWebhook } from './verified.js';

// Postmark bounce types that mean the address is dead, or only unreachable for now; the rest
// (AutoResponder, Subscribe, Unsubscribe, OpenRelayTest, …) are not bounces at all.
const HARD = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated', 'DMARCPolicy']);
const SOFT = new Set(['SoftBounce', 'Transient', 'DnsError', 'Blocked', 'Undeliverable', 'Unknown']);

/**
 * Postmark's webhooks carry no signature; its documented protection is HTTP basic auth in the
 * webhook URL (and its sending IPs). Both the user and the password must match. A Postmark
 * event id seen before is a replay.
 */
export function verifyPostmark(
  body: string,
  authorization: string | undefined,
  options: { user: string | undefined; password: string | undefined },
): VerifiedWebhook {
  if (!options.user || !options.password) throw refused('POSTMARK_WEBHOOK_USER and _PASSWORD are not set');
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? '' : decoded.slice(0, colon);
  const password = colon === -1 ? '' : decoded.slice(colon + 1);
  // Both compared, always, so the time taken says nothing about which one was wrong.
  const userOk = sameSecret(user, options.user);
  const passwordOk = sameSecret(password, options.password);
  if (!userOk || !passwordOk) throw refused('Postmark basic auth does not match');
  const e = obj(parseJson(body));
  const report = postmarkReport(e);
  // Events we do not act on (opens, clicks) may have no id: the body itself is then the key.
  const eventId = report?.event_id ?? `body:${createHash('sha256').update(body).digest('hex')}`;
  return { replayKey: eventId, reports: report ? [report] : [] };
}

function postmarkReport(e: Record<string, unknown>): DeliveryReport | null {
  const record = str(e.RecordType);
  const type = str(e.Type);
  const common = {
    email: str(e.Email) ?? str(e.Recipient),
    message_id: messageIdOf(obj(e.Metadata).offerflow_message_id),
    event_id: e.ID !== undefined ? `${record}:${String(e.ID)}` : undefined,
  };
  if (record === 'SpamComplaint' || (record === 'Bounce' && type === 'SpamComplaint')) {
    return { ...common, kind: 'complained', reason: 'SpamComplaint', at: date(e.BouncedAt) };
  }
  if (record === 'Bounce' && type && (HARD.has(type) || SOFT.has(type))) {
    return {
      ...common,
      kind: 'bounced',
      type: HARD.has(type) ? 'hard' : 'soft',
      status: type,
      reason: str(e.Details) ?? str(e.Description),
      at: date(e.BouncedAt),
    };
  }
  if (record === 'Delivery') {
    return {
      ...common,
      event_id: `Delivery:${str(e.MessageID)}:${str(e.Recipient)}`,
      kind: 'delivered',
      reason: str(e.Details),
      at: date(e.DeliveredAt),
    };
  }
  return null;
}

const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : undefined);
