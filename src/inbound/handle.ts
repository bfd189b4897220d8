import type { Logger } from 'pino';
import type { Sql } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { resolveUnsubscribe, unsubscribe } from '../tracking/unsubscribe.js';
import { applyDeliveryReports, type DeliveryReport } from './apply.js';
import { bounceTypeOf, readInboundMail } from './dsn.js';
import { classifyRecipient, unsubscribeTokenInSubject } from './verp.js';

export type InboundDeps = Pick<AppDeps, 'config' | 'clock'> & { sql: Sql; logger: Logger };

/** What the inbound service did with one mail for one recipient address. */
export type InboundOutcome =
  | { action: 'bounce'; messageId: number; applied: number; duplicates: number }
  | { action: 'unsubscribed' | 'already_unsubscribed' }
  | { action: 'ignored'; why: string };

/**
 * Handles one mail for the recipients it was accepted for (each already classified at RCPT TO):
 * a DSN to a VERP address records its bounces against the message the address names; a mail
 * to the unsubscribe address with a signed token in its subject unsubscribes (RFC 2369 mailto,
 * advertised in List-Unsubscribe); auto-replies and other mail are logged and dropped.
 */
export async function handleInboundMail(
  deps: InboundDeps,
  recipients: readonly string[],
  raw: Buffer,
): Promise<InboundOutcome[]> {
  const read = await readInboundMail(raw);
  const outcomes: InboundOutcome[] = [];
  for (const address of recipients) {
    const target = classifyRecipient(deps.config.OFFERFLOW_SECRET, address);
    if (target.kind === 'bounce') {
      if (read.kind !== 'dsn') {
        // An out-of-office or a human reply to the return path is not a bounce.
        outcomes.push({ action: 'ignored', why: read.kind });
        continue;
      }
      const reports: DeliveryReport[] = [];
      read.recipients.forEach((r, i) => {
        const type = bounceTypeOf(r);
        if (!type) return;
        reports.push({
          kind: 'bounced',
          type,
          message_id: target.messageId,
          status: r.status,
          reason: r.diagnostic ?? `${r.action} ${r.status}`,
          // One receipt per (DSN, recipient block): a DSN delivered twice is applied once.
          ...(read.messageId ? { event_id: `${read.messageId}#${i}:${target.messageId}` } : {}),
        });
      });
      if (reports.length === 0) {
        outcomes.push({ action: 'ignored', why: 'dsn without failures' });
        continue;
      }
      const done = await applyDeliveryReports(deps, 'dsn', reports);
      outcomes.push({ action: 'bounce', messageId: target.messageId, ...done });
      continue;
    }
    if (target.kind === 'unsubscribe') {
      if (read.kind === 'auto_reply' || read.kind === 'dsn') {
        outcomes.push({ action: 'ignored', why: read.kind });
        continue;
      }
      const token = unsubscribeTokenInSubject(read.subject);
      const resolved = token ? await resolveUnsubscribe(deps, token) : null;
      if (!resolved) {
        outcomes.push({ action: 'ignored', why: 'no valid unsubscribe token in the subject' });
        continue;
      }
      const result = await unsubscribe(deps, resolved.recipient, 'mailto');
      outcomes.push({ action: result === 'unsubscribed' ? 'unsubscribed' : 'already_unsubscribed' });
      continue;
    }
    outcomes.push({ action: 'ignored', why: 'unknown recipient' });
  }
  deps.logger.info({ message_id: read.messageId, kind: read.kind, outcomes }, 'inbound mail');
  return outcomes;
}
