import { createPublicKey, createVerify, type KeyObject } from 'node:crypto';
import type { DeliveryReport } from '../apply.js';
import { fresh, messageIdOf, obj, parseJson, refused, str, type VerifiedWebhook } from './verified.js';

export const SENDGRID_SIGNATURE = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP = 'x-twilio-email-event-webhook-timestamp';

/** SendGrid's verification key: base64 DER (as its settings page shows it) or PEM. */
export function sendgridKey(value: string): KeyObject {
  const pem = value.includes('-----BEGIN')
    ? value
    : `-----BEGIN PUBLIC KEY-----\n${value.replace(/\s+/g, '')}\n-----END PUBLIC KEY-----\n`;
  return createPublicKey(pem);
}

/**
 * SendGrid's signed event webhook: an ECDSA (P-256, SHA-256) signature, base64 DER, over the
 * timestamp header followed by the raw body. A stale timestamp is a replay.
 */
export function verifySendgrid(
  body: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  options: { publicKey: string | undefined; now: Date; toleranceSeconds: number },
): VerifiedWebhook {
  if (!options.publicKey) throw refused('SENDGRID_WEBHOOK_PUBLIC_KEY is not set');
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp))
    throw refused('Missing SendGrid signature headers');
  let valid = false;
  try {
    valid = createVerify('sha256')
      .update(timestamp + body, 'utf8')
      .verify(sendgridKey(options.publicKey), Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) throw refused('The SendGrid signature does not verify');
  if (!fresh(Number(timestamp), options.now, options.toleranceSeconds)) {
    throw refused('The SendGrid timestamp is too old (a replay)');
  }
  const events = parseJson(body);
  return { replayKey: signature, reports: (Array.isArray(events) ? events : []).flatMap(sendgridReport) };
}

/** One SendGrid event as a report, or nothing for events we do not act on (open, click, deferred…). */
function sendgridReport(raw: unknown): DeliveryReport[] {
  const e = obj(raw);
  const event = str(e.event);
  const common = {
    email: str(e.email),
    message_id: messageIdOf(e.offerflow_message_id),
    smtp_message_id: str(e['smtp-id']),
    event_id: str(e.sg_event_id),
    at: typeof e.timestamp === 'number' ? new Date(e.timestamp * 1000) : undefined,
  };
  if (event === 'bounce') {
    // `type: blocked` is a refusal that may pass later (a block list, a rate limit): soft.
    const hard = str(e.type) !== 'blocked';
    return [
      {
        ...common,
        kind: 'bounced',
        type: hard ? 'hard' : 'soft',
        status: str(e.status),
        reason: str(e.reason),
      },
    ];
  }
  if (event === 'spamreport') return [{ ...common, kind: 'complained', reason: 'spamreport' }];
  if (event === 'delivered') return [{ ...common, kind: 'delivered', reason: str(e.response) }];
  return [];
}
