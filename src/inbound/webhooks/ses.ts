import type { DeliveryReport } from '../apply.js';
import { isSnsUrl, type SnsClient, type SnsEnvelope, verifySnsSignature } from './sns.js';
import { messageIdOf, obj, parseJson, refused, str, type VerifiedWebhook } from './verified.js';

/** SNS retries a delivery for up to an hour by default; an older signed message is a replay. */
export const SNS_MAX_AGE_SECONDS = 3600;

/**
 * Amazon SES notifications through SNS: the SNS signature is checked against the certificate
 * at SigningCertURL (an SNS host only), the topic must be one of SES_SNS_TOPIC_ARNS, and the
 * message must be recent. Bounce, Complaint and Delivery notifications (and the same in SES
 * event publishing, `eventType`) become reports.
 */
export async function verifySes(
  body: string,
  options: { topics: readonly string[]; client: SnsClient; now: Date },
): Promise<VerifiedWebhook> {
  const message = obj(parseJson(body)) as unknown as SnsEnvelope;
  if (typeof message.Signature !== 'string' || typeof message.MessageId !== 'string') {
    throw refused('Not a signed SNS message');
  }
  if (!(await verifySnsSignature(message, options.client)))
    throw refused('The SNS signature does not verify');
  if (!options.topics.includes(message.TopicArn))
    throw refused('The SNS topic is not one of SES_SNS_TOPIC_ARNS');
  const age = (options.now.getTime() - Date.parse(message.Timestamp)) / 1000;
  if (!(age <= SNS_MAX_AGE_SECONDS && age >= -300)) throw refused('The SNS message is too old (a replay)');
  const replayKey = message.MessageId;
  if (message.Type === 'SubscriptionConfirmation') {
    if (!isSnsUrl(message.SubscribeURL)) throw refused('The SubscribeURL is not an SNS URL');
    return { replayKey, reports: [], subscribeUrl: message.SubscribeURL! };
  }
  if (message.Type !== 'Notification') return { replayKey, reports: [] };
  return { replayKey, reports: sesReports(message.MessageId, parseJson(message.Message)) };
}

/** The reports in one SES notification. */
export function sesReports(snsMessageId: string, payload: unknown): DeliveryReport[] {
  const n = obj(payload);
  const type = str(n.notificationType) ?? str(n.eventType);
  const mail = obj(n.mail);
  const headers = Array.isArray(mail.headers) ? mail.headers.map(obj) : [];
  const header = (name: string) => headers.find((h) => str(h.name)?.toLowerCase() === name)?.value;
  const common = {
    message_id: messageIdOf(header('x-offerflow-message')),
    smtp_message_id: str(obj(mail.commonHeaders).messageId) ?? str(header('message-id')),
  };
  const reports: DeliveryReport[] = [];
  const each = (list: unknown, make: (r: Record<string, unknown>) => DeliveryReport | null) => {
    if (!Array.isArray(list)) return;
    list.map(obj).forEach((r, i) => {
      const report = make(r);
      if (report) reports.push({ ...common, ...report, event_id: `${snsMessageId}#${i}` });
    });
  };
  if (type === 'Bounce') {
    const bounce = obj(n.bounce);
    const permanent = str(bounce.bounceType) === 'Permanent';
    each(bounce.bouncedRecipients, (r) => ({
      kind: 'bounced',
      type: permanent ? 'hard' : 'soft',
      email: str(r.emailAddress),
      status: str(r.status),
      reason: str(r.diagnosticCode) ?? str(bounce.bounceSubType),
      at: bounce.timestamp ? new Date(String(bounce.timestamp)) : undefined,
    }));
  } else if (type === 'Complaint') {
    const complaint = obj(n.complaint);
    each(complaint.complainedRecipients, (r) => ({
      kind: 'complained',
      email: str(r.emailAddress),
      reason: str(complaint.complaintFeedbackType) ?? 'complaint',
      at: complaint.timestamp ? new Date(String(complaint.timestamp)) : undefined,
    }));
  } else if (type === 'Delivery') {
    const delivery = obj(n.delivery);
    each(
      (Array.isArray(delivery.recipients) ? delivery.recipients : []).map((email) => ({ email })),
      (r) => ({
        kind: 'delivered',
        email: str(r.email),
        reason: str(delivery.smtpResponse),
        at: delivery.timestamp ? new Date(String(delivery.timestamp)) : undefined,
      }),
    );
  }
  return reports;
}
