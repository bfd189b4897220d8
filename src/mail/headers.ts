import type { SendMailOptions } from 'nodemailer';
import { identityDomain, type SendingIdentity } from '../senders/identity.js';

// The headers every outgoing mail carries and the DKIM signature over them: one place, so that
// campaign, automated and test mail are the same mail.

/** What a mail is, for Feedback-ID and Auto-Submitted. */
export type MailKind = 'campaign' | 'automated' | 'test';

/**
 * The header fields the DKIM signature covers (those present are signed). RFC 8058 §4: both
 * List-Unsubscribe and List-Unsubscribe-Post must be signed, else receivers should not offer
 * one-click unsubscribe; the rest are what a replay or an edit in transit would change.
 */
export const SIGNED_HEADERS = [
  'From',
  'Reply-To',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'Feedback-ID',
  'Auto-Submitted',
].join(':');

export interface OutgoingMail {
  identity: SendingIdentity;
  installId: string;
  kind: MailKind;
  /** The list the mail belongs to: `c<campaign id>`, `t<trigger id>`, `template-<id>` for a test. */
  source: string;
  /** The ledger row's id; absent for a test-send. */
  messageId?: number;
  to: string;
  subject: string;
  html: string;
  text: string;
  /**
   * RFC 8058 one-click URL (https in production) and the mailto alternative. Null for a mail
   * that subscribes nobody to anything (a double opt-in confirmation): there is nothing to leave.
   */
  unsubscribe: { oneClickUrl: string; mailto: string | null } | null;
  /** Extra X- headers (the ledger's ids). */
  extra?: Record<string, string>;
}

/**
 * The Message-ID of a ledger row: deterministic, so a retried send keeps it (receivers drop the
 * duplicate), and carrying the install id, so another install or a reset database never mints it.
 */
export function ledgerMessageId(input: {
  messageId: number;
  source: string;
  installId: string;
  domain: string;
}): string {
  return `<m${input.messageId}.${input.source}.${input.installId}@${input.domain}>`;
}

/** A one-off Message-ID (test-sends), unique by its random part. */
export function oneOffMessageId(input: {
  source: string;
  installId: string;
  domain: string;
  random: string;
}): string {
  return `<${input.source}.${input.random}.${input.installId}@${input.domain}>`;
}

/** List-Id (RFC 2919): one list per campaign or automation, under the sender's domain. */
export const listIdOf = (source: string, installId: string, domain: string): string =>
  `<${source.replace(/[^a-z0-9-]/gi, '-')}.${installId}.${domain}>`;

/**
 * Feedback-ID for Gmail's feedback loop, `campaign:kind:sender`: complaint rates come back
 * per campaign (or automation), per kind of mail and per sender identity.
 */
export const feedbackIdOf = (source: string, kind: MailKind, senderId: number | null): string =>
  `${source}:${kind}:${senderId === null ? 'default' : `s${senderId}`}`;

/** The nodemailer message for one mail, with its headers and, when the sender has a key, DKIM. */
export function mailOptions(mail: OutgoingMail, messageIdHeader: string): SendMailOptions {
  const domain = identityDomain(mail.identity);
  const { identity } = mail;
  const unsubscribe = mail.unsubscribe ? [`<${mail.unsubscribe.oneClickUrl}>`] : [];
  if (mail.unsubscribe?.mailto) unsubscribe.push(`<${mail.unsubscribe.mailto}>`);
  return {
    from: identity.from,
    ...(identity.replyTo ? { replyTo: identity.replyTo } : {}),
    to: mail.to,
    subject: mail.subject,
    html: mail.html,
    text: mail.text,
    messageId: messageIdHeader,
    date: new Date(),
    headers: {
      'List-Id': listIdOf(mail.source, mail.installId, domain),
      ...(unsubscribe.length > 0
        ? {
            'List-Unsubscribe': unsubscribe.join(', '),
            'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          }
        : {}),
      'Feedback-ID': feedbackIdOf(mail.source, mail.kind, identity.senderId),
      // RFC 3834: automated mail says so, and auto-responders then leave it alone.
      ...(mail.kind === 'automated' ? { 'Auto-Submitted': 'auto-generated' } : {}),
      ...mail.extra,
    },
    ...(identity.dkim ? { dkim: { ...identity.dkim, headerFieldNames: SIGNED_HEADERS } } : {}),
  };
}
