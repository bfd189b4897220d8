import { createHmac } from 'node:crypto';
import type { DeliveryReport } from '../apply.js';
import {
  fresh,
  messageIdOf,
  obj,
  parseJson,
  refused,
  sameSecret,
  str,
  type VerifiedWebhook,
} from './verified.js';

/**
 * Mailgun's webhooks: `signature: {timestamp, token, signature}` in the JSON body, where
 * signature is hex HMAC-SHA256 of timestamp + token with the webhook signing key. Mailgun asks
 * receivers to refuse a token seen before and stale timestamps: both are replays here.
 */
export function verifyMailgun(
  body: string,
  options: { signingKey: string | undefined; now: Date; toleranceSeconds: number },
): VerifiedWebhook {
  if (!options.signingKey) throw refused('MAILGUN_WEBHOOK_SIGNING_KEY is not set');
  const payload = obj(parseJson(body));
  const sig = obj(payload.signature);
  const timestamp =
    str(sig.timestamp) ?? (typeof sig.timestamp === 'number' ? String(sig.timestamp) : undefined);
  const token = str(sig.token);
  const signature = str(sig.signature);
  if (!timestamp || !token || !signature) throw refused('Missing Mailgun signature');
  const expected = createHmac('sha256', options.signingKey)
    .update(timestamp + token)
    .digest('hex');
  if (!sameSecret(expected, signature.toLowerCase())) throw refused('The Mailgun signature does not verify');
  if (!fresh(Number(timestamp), options.now, options.toleranceSeconds)) {
    throw refused('The Mailgun timestamp is too old (a replay)');
  }
  return { replayKey: token, reports: mailgunReports(obj(payload['event-data'])) };
}

function mailgunReports(e: Record<string, unknown>): DeliveryReport[] {
  const event = str(e.event);
  const status = obj(e['delivery-status']);
  const headers = obj(obj(e.message).headers);
  const common = {
    email: str(e.recipient),
    message_id: messageIdOf(obj(e['user-variables']).offerflow_message_id),
    smtp_message_id: str(headers['message-id']),
    event_id: str(e.id),
    at: typeof e.timestamp === 'number' ? new Date(e.timestamp * 1000) : undefined,
  };
  const reason = str(status.description) || str(status.message) || str(e.reason);
  if (event === 'failed') {
    const hard = str(e.severity) === 'permanent';
    const code = typeof status.code === 'number' ? String(status.code) : str(status['enhanced-code']);
    return [{ ...common, kind: 'bounced', type: hard ? 'hard' : 'soft', status: code, reason }];
  }
  if (event === 'complained') return [{ ...common, kind: 'complained', reason: 'complaint' }];
  if (event === 'delivered') return [{ ...common, kind: 'delivered', reason: str(status.message) }];
  return [];
}
