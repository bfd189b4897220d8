import { recordContactEvents } from '../customers/events.js';
import type { Sql } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { recordDeliveryFailureIn } from '../tracking/bounces.js';
import { findBounceTargetByMessage, findBounceTargetsByEmail } from '../tracking/store.js';
import { claimReceipt, messageBySmtpId, messageExists } from './store.js';

/**
 * One thing a receiver or an ESP told us about a message: what every source (a DSN through
 * `offerflow inbound`, the SES, SendGrid, Postmark and Mailgun webhooks) is mapped to, so that
 * each lands on the same contact events and suppressions.
 */
export interface DeliveryReport {
  kind: 'bounced' | 'complained' | 'delivered';
  /** For a bounce: hard (5.x.x, permanent) or soft (4.x.x, transient). */
  type?: 'hard' | 'soft' | undefined;
  /** Our message id, when the report names it (VERP, our own header). */
  message_id?: number | undefined;
  /** The Message-ID header we sent, when the provider reports it. */
  smtp_message_id?: string | undefined;
  /** The recipient address the report is about. */
  email?: string | undefined;
  reason?: string | undefined;
  status?: string | undefined;
  at?: Date | undefined;
  /** The provider's id for the event: applying it twice changes nothing. */
  event_id?: string | undefined;
}

export interface ApplyResult {
  applied: number;
  duplicates: number;
  /** Reports about no message or address we know. */
  unmatched: number;
}

type ApplyDeps = Pick<AppDeps, 'config' | 'clock'> & { sql: Sql };

const validDate = (d: Date | undefined) => (d && !Number.isNaN(d.getTime()) ? d : undefined);

/** Applies reports from one provider, each in its own transaction with its receipt. */
export async function applyDeliveryReports(
  deps: ApplyDeps,
  provider: string,
  reports: readonly DeliveryReport[],
): Promise<ApplyResult> {
  const result: ApplyResult = { applied: 0, duplicates: 0, unmatched: 0 };
  for (const report of reports) {
    const outcome = await deps.sql.begin(async (tx) => {
      if (report.event_id && !(await claimReceipt(tx, provider, report.event_id))) return 'duplicate';
      let messageId = report.message_id;
      if (messageId !== undefined && !(await messageExists(tx, messageId))) messageId = undefined;
      if (messageId === undefined && report.smtp_message_id) {
        messageId = (await messageBySmtpId(tx, report.smtp_message_id)) ?? undefined;
      }
      if (messageId === undefined && !report.email) return 'unmatched';
      const at = validDate(report.at);
      if (report.kind === 'delivered') {
        const targets =
          messageId !== undefined
            ? await findBounceTargetByMessage(tx, messageId)
            : await findBounceTargetsByEmail(tx, report.email ?? '');
        if (targets.length === 0) return 'unmatched';
        await recordContactEvents(
          tx,
          targets.map((t) => ({
            customer_id: t.customer_id,
            kind: 'delivered',
            channel: 'email',
            message_id: t.message_id,
            campaign_id: t.campaign_id,
            trigger_id: t.trigger_id,
            data: { source: provider, ...(report.reason ? { reason: report.reason } : {}) },
            ...(at ? { at } : {}),
          })),
        );
        return 'applied';
      }
      const done = await recordDeliveryFailureIn(tx, deps, report.kind, {
        // A message id names the address it was sent to; only without one does the reported
        // address count (a report must not suppress an address its message was not sent to).
        ...(messageId !== undefined ? { message_id: messageId } : { email: report.email }),
        type: report.kind === 'bounced' ? (report.type ?? 'soft') : undefined,
        reason: report.reason?.slice(0, 2000),
        status: report.status?.slice(0, 32),
        at: at?.toISOString(),
        source: provider,
      });
      return done.events > 0 || done.suppressed ? 'applied' : 'unmatched';
    });
    if (outcome === 'applied') result.applied += 1;
    else if (outcome === 'duplicate') result.duplicates += 1;
    else result.unmatched += 1;
  }
  return result;
}
