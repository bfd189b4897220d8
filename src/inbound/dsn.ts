import { type ParsedMail, simpleParser } from 'mailparser';

/** One recipient block of a delivery-status report (RFC 3464 §2.3). */
export interface DsnRecipient {
  recipient: string | null;
  action: string;
  /** The enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string;
  diagnostic: string | null;
}

/** What a mail that reached the inbound service is. */
export type InboundMail =
  | { kind: 'dsn'; recipients: DsnRecipient[]; messageId: string | null }
  | { kind: 'auto_reply'; messageId: string | null; subject: string }
  | { kind: 'other'; messageId: string | null; subject: string };

/**
 * Fields of a delivery-status body: blocks separated by blank lines, each a set of header-like
 * fields, with folded lines joined (RFC 3464 §2.1 uses RFC 822 header syntax).
 */
export function parseDeliveryStatus(text: string): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  for (const chunk of text.replace(/\r\n/g, '\n').split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | null = null;
    for (const line of chunk.split('\n')) {
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    if (fields.size > 0) blocks.push(fields);
  }
  return blocks;
}

/** `rfc822; user@example.com` → `user@example.com`. */
const addressOf = (value: string | undefined) => {
  if (!value) return null;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(semi + 1)).trim().replace(/^<|>$/g, '') || null;
};

/** The recipient blocks of a DSN body: those with an Action and a Status. */
export function dsnRecipients(deliveryStatus: string): DsnRecipient[] {
  return parseDeliveryStatus(deliveryStatus)
    .filter((f) => f.has('action') && f.has('status'))
    .map((f) => ({
      recipient: addressOf(f.get('final-recipient') ?? f.get('original-recipient')),
      action: (f.get('action') ?? '').toLowerCase().split(/\s/)[0] ?? '',
      status: /\d\.\d{1,3}\.\d{1,3}/.exec(f.get('status') ?? '')?.[0] ?? '',
      diagnostic: f.get('diagnostic-code') ?? null,
    }));
}

/** A bounce's kind from its recipient block: hard (5.x.x failed), soft (4.x.x, delayed), or none. */
export function bounceTypeOf(r: DsnRecipient): 'hard' | 'soft' | null {
  if (r.action === 'failed') return r.status.startsWith('4') ? 'soft' : 'hard';
  if (r.action === 'delayed') return 'soft';
  return null; // delivered, relayed, expanded: not a failure
}

const AUTO_SUBJECT =
  /^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|r[ée]ponse automatique|auto:)/i;

function header(mail: ParsedMail, name: string): string {
  const value = mail.headers.get(name);
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Whether a mail is an automatic reply (RFC 3834 Auto-Submitted, or the headers Exchange,
 * Gmail and common autoresponders set), which must never count as a bounce or an unsubscribe.
 */
export function isAutoReply(mail: ParsedMail): boolean {
  const submitted = header(mail, 'auto-submitted').toLowerCase();
  if (submitted && !submitted.startsWith('no')) return true;
  if (header(mail, 'x-autoreply') || header(mail, 'x-autorespond')) return true;
  if (/auto_?reply|bulk|junk|list/i.test(header(mail, 'precedence'))) return true;
  if (/\b(oof|autoreply|all)\b/i.test(header(mail, 'x-auto-response-suppress'))) return true;
  return AUTO_SUBJECT.test(mail.subject ?? '');
}

/** The delivery-status part of a multipart/report, decoded, if the mail has one. */
function deliveryStatusPart(mail: ParsedMail): string | null {
  for (const a of mail.attachments) {
    const type = a.contentType.toLowerCase();
    if (type === 'message/delivery-status' || type === 'message/global-delivery-status') {
      return a.content.toString('utf8');
    }
  }
  return null;
}

/**
 * Reads a mail sent to the inbound service with mailparser: a DSN (RFC 3464 multipart/report
 * with a message/delivery-status part) comes back with its recipient blocks; anything else is
 * an auto-reply or other mail. A DSN carries `Auto-Submitted` itself, so it is recognised first.
 */
export async function readInboundMail(raw: Buffer): Promise<InboundMail & { mail: ParsedMail }> {
  const mail = await simpleParser(raw, {
    keepDeliveryStatus: true,
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const messageId = mail.messageId ?? null;
  const status = deliveryStatusPart(mail);
  if (status !== null) return { kind: 'dsn', recipients: dsnRecipients(status), messageId, mail };
  const subject = mail.subject ?? '';
  if (isAutoReply(mail)) return { kind: 'auto_reply', messageId, subject, mail };
  return { kind: 'other', messageId, subject, mail };
}
