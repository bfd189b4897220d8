import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { recordContactEvent } from '../customers/events.js';
import type { Sql } from '../db/sql.js';
import { isTransientDbError, retryTransient } from '../db/transient.js';
import { returnPathFor, unsubscribeMailto } from '../inbound/verp.js';
import { ledgerMessageId, mailOptions } from '../mail/headers.js';
import { cachedInstallationId } from '../mail/installation.js';
import { prebuiltMail } from '../mail/raw-mail.js';
import { createMessageRenderer } from '../mail/render-message.js';
import { applyContactPolicy } from '../policy/apply.js';
import { OFF } from '../policy/settings.js';
import { type CountUnlessComplained, countSends } from '../policy/store.js';
import { createIdentityResolver, type IdentityConfig, identityDomain } from '../senders/identity.js';
import { createBatcher } from './batcher.js';
import {
  type ClaimedMessage,
  claimMessages,
  insertSuppression,
  markFailed,
  markUnsendable,
  messageState,
  recordSentMany,
  releaseForRetry,
  type SentRecord,
  setOffers,
  suppressionsOf,
} from './ledger.js';
import { confirmManyBeforeSmtp, type SmtpGuard } from './send-guard.js';
import { emailHash, suppressionReason } from './suppression.js';

export interface SenderDeps {
  sql: Sql;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'PUBLIC_URL' | 'MARKETING_LEGAL_BASIS' | 'MAIL_POSTAL_ADDRESS'> &
    IdentityConfig &
    Partial<Pick<Config, 'BOUNCE_DOMAIN'>>;
  transport: Transporter;
  logger: Logger;
  clock: () => Date;
  /** A row left `sending` this long by a worker that died may be claimed again. */
  leaseSeconds?: number;
  /**
   * How long to keep trying to record a mail the SMTP server accepted while PostgreSQL is down
   * or full (default 15 minutes): longer than a restart, so that the mail is never sent again.
   */
  recordRetryMs?: number;
}

export type SendOutcome =
  | { outcome: 'sent'; messageId: string }
  | { outcome: 'skipped'; reason: string }
  /** Held by the contact policy (quiet hours): the job should run again in `delayMs`. */
  | { outcome: 'held'; reason: string; until: Date; delayMs: number }
  | { outcome: 'failed'; error: string }
  | { outcome: 'retry'; error: string };

/** A temporary failure: the job should be retried with backoff. */
export class RetryableSendError extends Error {
  override name = 'RetryableSendError';
}

interface SmtpError {
  responseCode?: number;
  response?: string;
  code?: string;
  command?: string;
  message: string;
}

/** A failure of PostgreSQL itself (down, restarting, full), not of the data read from it. */
function isInfrastructureError(error: unknown): boolean {
  return isTransientDbError(error) || (error as { name?: string } | null)?.name === 'PostgresError';
}

/**
 * The sender of one worker process: holds the SMTP pool, the offers it has loaded, and the
 * compiled subject lines of variants, so that per message only rendering and I/O remain.
 */
export function createSender(deps: SenderDeps) {
  const lease = deps.leaseSeconds ?? 60;
  const recordRetryMs = deps.recordRetryMs ?? 15 * 60_000;
  const render = createMessageRenderer(deps);
  const identities = createIdentityResolver(deps);
  const installId = cachedInstallationId(deps.sql);

  // The ledger statements every send makes (claim, count, last look, record) go in batches:
  // the jobs a worker runs at once share one round trip per step instead of paying one each.
  // A row's guarantees are its own still: each job waits for its row's answer, and a failed
  // batch fails each of its calls, which retry on their own as before.
  const claimBatch = createBatcher(async (ids: number[]) => {
    const rows = new Map((await claimMessages(deps.sql, ids, lease, deps.clock())).map((r) => [r.id, r]));
    // Two jobs of one row in a batch (a duplicate after a Redis wipe): only the first gets it.
    return ids.map((id) => {
      const row = rows.get(id);
      rows.delete(id);
      return row;
    });
  });
  const countBatch = createBatcher(async (inputs: CountUnlessComplained[]) => {
    const complained = await countSends(deps.sql, inputs);
    return inputs.map((i) => complained.has(i.messageId));
  });
  const guardBatch = createBatcher(async (ids: number[]) => {
    const verdicts = await confirmManyBeforeSmtp(deps.sql, ids);
    return ids.map((id): SmtpGuard => verdicts.get(id) ?? 'settled');
  });
  const recordBatch = createBatcher(async (records: SentRecord[]) => {
    const marked = await recordSentMany(deps.sql, records);
    return records.map((r) => marked.has(r.id));
  });

  /**
   * Why an automated message (a trigger's, a journey's) may no longer go out, or null: its
   * customer may have unsubscribed, withdrawn consent or bounced during the delay. (A campaign's
   * rows are checked when planned.)
   */
  async function suppressedNow(m: ClaimedMessage, email: string): Promise<string | null> {
    const hash = emailHash(deps.config.OFFERFLOW_SECRET, email).toString('hex');
    const listed = await suppressionsOf(deps.sql, [hash]);
    return suppressionReason(
      { id: m.customer_id, email, erased: false, marketing: m.marketing },
      listed.get(hash),
      deps.config.MARKETING_LEGAL_BASIS,
    );
  }

  /** What to do when the row could not be claimed; `again`: it was only locked for a moment. */
  async function explainUnclaimed(id: number): Promise<SendOutcome | 'again'> {
    const state = await messageState(deps.sql, id, deps.clock());
    if (!state) return { outcome: 'skipped', reason: 'no such message' };
    if (!['queued', 'sending'].includes(state.status))
      return { outcome: 'skipped', reason: `already ${state.status}` };
    // A trigger's delayed row, or any row the contact policy held for quiet hours.
    if (state.status === 'queued' && state.due_in_seconds > 0) {
      // A clock a little ahead of PostgreSQL's: try again shortly. Otherwise its delayed job, or
      // the reconciler, brings the row back when it is due.
      if (state.due_in_seconds < 60) throw new RetryableSendError(`message ${id} is not due yet`);
      return { outcome: 'skipped', reason: 'not due yet' };
    }
    if (state.campaign_status === 'cancelled') {
      await markUnsendable(deps.sql, id, 'cancelled', null);
      return { outcome: 'skipped', reason: 'campaign cancelled' };
    }
    if (state.campaign_id !== null && state.campaign_status !== 'sending') {
      // Paused or not started: the row stays queued and resume enqueues it again.
      return { outcome: 'skipped', reason: `campaign ${state.campaign_status}` };
    }
    // Queued and due, yet skipped: another statement held its lock (a planner noting it
    // enqueued, a cancel), which lasts one statement.
    if (state.status === 'queued') return 'again';
    // Another worker holds a fresh lease on it (a duplicate job after a Redis wipe): try later.
    throw new RetryableSendError(`message ${id} is being sent by another worker`);
  }

  /** Claims the row, asking again a few times while another statement holds its lock. */
  async function claim(id: number): Promise<ClaimedMessage | SendOutcome> {
    for (let round = 1; ; round++) {
      const m = await retryTransient(() => claimBatch(id), { forMs: 3000 });
      if (m) return m;
      const unclaimed = await explainUnclaimed(id);
      if (unclaimed !== 'again') return unclaimed;
      if (round >= 5) throw new RetryableSendError(`message ${id} stayed locked by another statement`);
      await new Promise((r) => setTimeout(r, 10 * round));
    }
  }

  /**
   * Sends one ledger row: claim, render, SMTP, then in one transaction mark it sent, append the
   * `sent` contact event and the offer impressions. `finalAttempt` turns a temporary failure
   * into a failed row instead of a retry.
   */
  async function send(id: number, options: { finalAttempt: boolean }): Promise<SendOutcome> {
    // A claim that committed but lost its reply leaves the row `sending`: the retry then finds it
    // leased and the job comes back once the lease is over, so repeating it is safe.
    const m = await claim(id);
    if ('outcome' in m) return m;
    const email = m.customer.email;
    if (!email || m.customer.erased_at) {
      await markUnsendable(deps.sql, id, 'suppressed', m.customer.erased_at ? 'erased' : 'no_email');
      return { outcome: 'skipped', reason: 'no address' };
    }
    if (m.campaign_id === null) {
      const reason = await suppressedNow(m, email);
      if (reason) {
        await markUnsendable(deps.sql, id, 'suppressed', reason);
        return { outcome: 'skipped', reason };
      }
    }
    // The contact policy, for every row whoever wrote it: hold (quiet hours), drop (caps,
    // priority, complaint) or count and go on. After suppression, so that what is suppressed
    // anyway is not counted; before rendering, so that a held or dropped row costs nothing more.
    const now = deps.clock();
    let verdict: Awaited<ReturnType<typeof applyContactPolicy>>;
    try {
      verdict = await applyContactPolicy(
        deps.sql,
        {
          id,
          customer_id: m.customer_id,
          category: m.category,
          priority: m.priority,
          policy_counted: m.policy_counted,
          timezone: m.customer.timezone,
          settings: m.policy ?? OFF,
        },
        now,
        countBatch,
      );
    } catch (error) {
      // The decision rolled back whole (nothing counted): the row goes back to the queue.
      if (isInfrastructureError(error)) return retryLater(id, `policy: ${(error as Error).message}`);
      throw error;
    }
    if (verdict.action === 'hold')
      return {
        outcome: 'held',
        reason: verdict.reason,
        until: verdict.until,
        delayMs: Math.max(0, verdict.until.getTime() - now.getTime()),
      };
    if (verdict.action === 'drop') return { outcome: 'skipped', reason: verdict.reason };
    if (verdict.action === 'gone') return { outcome: 'skipped', reason: 'row settled elsewhere' };
    let mail: Awaited<ReturnType<typeof render>>;
    try {
      // Sending (not a web view): an offer the mail cannot show gets the next eligible in its place.
      // The recommended products are written with the `sent` below (a click comes after it).
      mail = await render(m, { replaceAt: now, recordRecommended: false });
    } catch (error) {
      const message = `render: ${error instanceof Error ? error.message : String(error)}`;
      // The database failing while the template or offers load is not the template's fault:
      // the row goes back to the queue and is tried again (by its job, or by the reconciler
      // once its attempts are used up), never failed for it.
      if (isInfrastructureError(error)) return retryLater(id, message);
      await markFailed(deps.sql, id, { error: message, reply: null });
      return { outcome: 'failed', error: message };
    }
    let offerIds = m.offer_ids;
    if (mail.replaced.length > 0) {
      // Planned while codes (or the customer's product) remained, gone before this send: the
      // next eligible offer took the place (or none could), never an empty code. The row's
      // offer_ids become what the mail shows, so impressions, the ranker and click positions
      // count that; the operator is told.
      offerIds = await setOffers(deps.sql, id, mail.offerIds);
      deps.logger.warn(
        { message: id, campaign: m.campaign_id, trigger: m.trigger_id, replaced: mail.replaced },
        'offer left out of the mail at send time',
      );
    }
    const identity = await identities.resolve(m.sender_id, { address: m.from_address, name: m.from_name });
    const domain = identityDomain(identity);
    const source =
      m.campaign_id !== null
        ? `c${m.campaign_id}`
        : m.journey_id !== null
          ? `j${m.journey_id}`
          : `t${m.trigger_id}`;
    // Deterministic: a duplicate after a crash carries the same Message-ID, so receivers can drop it.
    const smtpMessageId = ledgerMessageId({ messageId: id, source, installId: await installId(), domain });
    const unsubscribeToken = mail.links.unsubscribeUrl.split('/').pop();
    // Last look before the wire: a customer erased (or a row settled elsewhere) since the claim
    // gets nothing. This also renews the lease, so it counts from the SMTP transaction.
    const guard = await retryTransient(() => guardBatch(id), { forMs: 3000 });
    if (guard !== 'ok') {
      if (guard === 'erased') await markUnsendable(deps.sql, id, 'cancelled', 'erased');
      return { outcome: 'skipped', reason: guard === 'erased' ? 'customer erased' : 'row settled elsewhere' };
    }
    let reply: string | null = null;
    const bounceDomain = deps.config.BOUNCE_DOMAIN;
    try {
      const message = mailOptions(
        {
          identity,
          installId: await installId(),
          kind: m.campaign_id !== null ? 'campaign' : 'automated',
          source,
          messageId: id,
          to: email,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          unsubscribe: {
            oneClickUrl: mail.links.oneClickUrl,
            mailto: unsubscribeMailto(deps.config, domain, unsubscribeToken ?? ''),
          },
          extra: {
            'X-Offerflow-Message': String(id),
            ...(m.campaign_id !== null ? { 'X-Offerflow-Campaign': String(m.campaign_id) } : {}),
            ...(m.trigger_id !== null ? { 'X-Offerflow-Trigger': String(m.trigger_id) } : {}),
            ...(m.journey_id !== null ? { 'X-Offerflow-Journey': String(m.journey_id) } : {}),
          },
        },
        smtpMessageId,
      );
      // VERP: bounces come back to `offerflow inbound` naming this message (src/inbound/).
      if (bounceDomain)
        message.envelope = { from: returnPathFor(deps.config.OFFERFLOW_SECRET, bounceDomain, id), to: email };
      // Built once into one buffer: nodemailer's streamed composition was the send's largest cost.
      const info = await deps.transport.sendMail(prebuiltMail(message));
      reply = typeof info.response === 'string' ? info.response : null;
    } catch (raw) {
      const error = raw as SmtpError;
      const code = error.responseCode ?? 0;
      const text = error.response ?? error.message;
      if (code >= 500) {
        await failPermanently(m, email, text, error);
        return { outcome: 'failed', error: text };
      }
      if (options.finalAttempt) {
        await markFailed(deps.sql, id, {
          error: `gave up after ${m.attempts} attempts: ${text}`,
          reply: error.response ?? null,
        });
        return { outcome: 'failed', error: text };
      }
      await releaseForRetry(deps.sql, id, { error: text, reply: error.response ?? null });
      throw new RetryableSendError(text);
    }
    const at = deps.clock();
    // The mail is out: from here on, retry the bookkeeping rather than the send, so that a
    // deadlock, a PostgreSQL restart or a full server does not turn into a second copy. The job
    // keeps its lock meanwhile (BullMQ renews it) and its row stays `sending` under this claim.
    let warned = false;
    await retryTransient(
      () =>
        recordBatch({
          id,
          smtpMessageId,
          reply,
          at,
          ...(mail.recommended ? { recommended: mail.recommended } : {}),
          data: {
            offer_ids: offerIds,
            variant: m.variant,
            template_version: m.template_version,
            // The unique codes this mail carried, on the contact history.
            ...(Object.keys(mail.codes).length > 0 ? { codes: mail.codes } : {}),
            // Why an offer planned for this mail is not in it (the explain of the send).
            ...(mail.codesExhausted.length > 0 ? { codes_exhausted: mail.codesExhausted } : {}),
            ...(mail.noProduct.length > 0 ? { no_product: mail.noProduct } : {}),
            // Which planned offer was left out, why, and which offer took its place.
            ...(mail.replaced.length > 0 ? { replaced: mail.replaced } : {}),
            // The product each product offer was filled with (offer id → sku).
            ...(Object.keys(mail.products).length > 0 ? { offer_products: mail.products } : {}),
          },
        }),
      {
        forMs: recordRetryMs,
        onRetry: (error) => {
          if (warned) return;
          warned = true;
          deps.logger.warn(
            { message: id, err: (error as Error).message },
            'sent mail not recorded yet; retrying',
          );
        },
      },
    );
    return { outcome: 'sent', messageId: smtpMessageId };
  }

  /** Puts a claimed row back to `queued` after an infrastructure failure and retries the job. */
  async function retryLater(id: number, error: string): Promise<never> {
    // If even this fails (the database is still away), the row stays `sending` and its lease
    // brings it back: nothing was sent, so either way it is sent once.
    await releaseForRetry(deps.sql, id, { error, reply: null }).catch(() => {});
    throw new RetryableSendError(error);
  }

  /** A 5xx reply: the row fails with it; a rejected recipient is a hard bounce and suppressed. */
  async function failPermanently(m: ClaimedMessage, email: string, reply: string, error: SmtpError) {
    const hardBounce = error.code === 'EENVELOPE' || error.command === 'RCPT TO';
    await deps.sql.begin(async (tx) => {
      if (!(await markFailed(tx, m.id, { error: reply, reply }))) return;
      if (!hardBounce) return;
      await insertSuppression(tx, emailHash(deps.config.OFFERFLOW_SECRET, email), 'hard_bounce', 'smtp');
      await recordContactEvent(tx, {
        customer_id: m.customer_id,
        kind: 'bounced',
        channel: 'email',
        message_id: m.id,
        campaign_id: m.campaign_id,
        trigger_id: m.trigger_id,
        data: { type: 'hard', reply },
      });
    });
  }

  return {
    send,
    close: () => deps.transport.close(),
  };
}

export type Sender = ReturnType<typeof createSender>;
