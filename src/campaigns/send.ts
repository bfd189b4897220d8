import { LRUCache } from 'lru-cache';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { recordContactEvent } from '../customers/events.js';
import type { Sql } from '../db/sql.js';
import { compileSubject, loadTemplateVersion, renderForCustomer } from '../templates/render.js';
import { messageLinks } from '../tracking/links.js';
import { triggerMessageOrders } from '../triggers/store.js';
import {
  type ClaimedMessage,
  claimMessage,
  insertSuppression,
  markFailed,
  markUnsendable,
  messageState,
  type OfferContent,
  offerContents,
  recordSent,
  releaseForRetry,
  suppressionsOf,
} from './store.js';
import { emailHash, suppressionReason } from './suppression.js';

export interface SenderDeps {
  sql: Sql;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'PUBLIC_URL' | 'MARKETING_LEGAL_BASIS'>;
  transport: Transporter;
  logger: Logger;
  clock: () => Date;
  /** A row left `sending` this long by a worker that died may be claimed again. */
  leaseSeconds?: number;
}

export type SendOutcome =
  | { outcome: 'sent'; messageId: string }
  | { outcome: 'skipped'; reason: string }
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

const OFFER_TTL_MS = 60_000;
const TRANSIENT = new Set([
  '40P01',
  '40001',
  '08006',
  '08003',
  '57P01',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
]);

/** Runs a transaction again on a deadlock, a serialization failure or a dropped connection. */
async function withTransientRetry<T>(run: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || !code || !TRANSIENT.has(code)) throw error;
      await new Promise((r) => setTimeout(r, 20 * 2 ** attempt * Math.random()));
    }
  }
}

/**
 * The sender of one worker process: holds the SMTP pool, the offers it has loaded, and the
 * compiled subject lines of variants, so that per message only rendering and I/O remain.
 */
export function createSender(deps: SenderDeps) {
  const offers = new Map<number, { offer: OfferContent; until: number }>();
  const subjects = new LRUCache<string, ReturnType<typeof compileSubject>>({ max: 500 });
  const lease = deps.leaseSeconds ?? 60;

  async function loadOffers(ids: number[]): Promise<OfferContent[]> {
    const now = Date.now();
    const missing = ids.filter((id) => (offers.get(id)?.until ?? 0) < now);
    if (missing.length > 0) {
      for (const offer of await offerContents(deps.sql, missing))
        offers.set(offer.id, { offer, until: now + OFFER_TTL_MS });
    }
    return ids.map((id) => offers.get(id)?.offer).filter((o): o is OfferContent => o !== undefined);
  }

  /** A variant's subject, in the template sandbox and render budget (it was checked at save). */
  function subjectFor(source: string): ReturnType<typeof compileSubject> {
    let compiled = subjects.get(source);
    if (!compiled) {
      compiled = compileSubject(source, 'variant subject');
      subjects.set(source, compiled);
    }
    return compiled;
  }

  async function render(m: ClaimedMessage) {
    const version = await loadTemplateVersion(deps.sql, m.template_id, m.template_version);
    const links = messageLinks(deps.config.PUBLIC_URL, deps.config.OFFERFLOW_SECRET, m.id);
    const content = await loadOffers(m.offer_ids);
    // An automated email may speak of the order that fired it and of the latest one.
    const orders = m.trigger_id !== null ? await triggerMessageOrders(deps.sql, m) : undefined;
    const { erased_at: _erased, ...customer } = m.customer;
    const data = {
      customer,
      offers: content.map((o, i) => ({
        offer_id: o.id,
        title: o.title,
        text: o.text,
        image_url: o.image_url,
        url: o.url ? links.offerUrl(i) : null,
        code: o.code,
      })),
      unsubscribe_url: links.unsubscribeUrl,
      preferences_url: links.preferencesUrl,
      campaign: { name: m.campaign_name },
      ...(orders?.order ? { order: orders.order } : {}),
      ...(orders?.last_order ? { last_order: orders.last_order } : {}),
    };
    const rendered = renderForCustomer(version, data as Parameters<typeof renderForCustomer>[1]);
    const variant = m.campaign_variants.find((v) => v.name === m.variant);
    const subject = variant?.subject ? subjectFor(variant.subject)(data) : rendered.subject;
    const pixel = `<img src="${links.openPixelUrl}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
    const html = rendered.html.includes('</body>')
      ? rendered.html.replace('</body>', `${pixel}</body>`)
      : rendered.html + pixel;
    return { subject, html, text: rendered.text, links };
  }

  /**
   * Why a trigger's message may no longer go out, or null: its customer may have unsubscribed,
   * withdrawn consent or bounced during the delay. (A campaign's rows are checked when planned.)
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

  /** What to do when the row could not be claimed. */
  async function explainUnclaimed(id: number): Promise<SendOutcome> {
    const state = await messageState(deps.sql, id);
    if (!state) return { outcome: 'skipped', reason: 'no such message' };
    if (!['queued', 'sending'].includes(state.status))
      return { outcome: 'skipped', reason: `already ${state.status}` };
    if (state.campaign_id === null && state.status === 'queued' && state.due_in_seconds > 0) {
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
    // Another worker holds a fresh lease on it (a duplicate job after a Redis wipe): try later.
    throw new RetryableSendError(`message ${id} is being sent by another worker`);
  }

  /**
   * Sends one ledger row: claim, render, SMTP, then in one transaction mark it sent, append the
   * `sent` contact event and the offer impressions. `finalAttempt` turns a temporary failure
   * into a failed row instead of a retry.
   */
  async function send(id: number, options: { finalAttempt: boolean }): Promise<SendOutcome> {
    const m = await claimMessage(deps.sql, id, lease);
    if (!m) return explainUnclaimed(id);
    const email = m.customer.email;
    if (!email || m.customer.erased_at) {
      await markUnsendable(deps.sql, id, 'suppressed', m.customer.erased_at ? 'erased' : 'no_email');
      return { outcome: 'skipped', reason: 'no address' };
    }
    if (m.trigger_id !== null) {
      const reason = await suppressedNow(m, email);
      if (reason) {
        await markUnsendable(deps.sql, id, 'suppressed', reason);
        return { outcome: 'skipped', reason };
      }
    }
    let mail: Awaited<ReturnType<typeof render>>;
    try {
      mail = await render(m);
    } catch (error) {
      const message = `render: ${error instanceof Error ? error.message : String(error)}`;
      await markFailed(deps.sql, id, { error: message, reply: null });
      return { outcome: 'failed', error: message };
    }
    const fromAddress = m.from_address ?? `no-reply@${new URL(deps.config.PUBLIC_URL).hostname}`;
    const domain = fromAddress.split('@')[1] ?? 'localhost';
    // Deterministic: a duplicate after a crash carries the same Message-ID, so receivers can drop it.
    const source = m.campaign_id !== null ? `c${m.campaign_id}` : `t${m.trigger_id}`;
    const smtpMessageId = `<m${id}.${source}@${domain}>`;
    const unsubscribeToken = mail.links.unsubscribeUrl.split('/').pop();
    let reply: string | null = null;
    try {
      const info = await deps.transport.sendMail({
        from: m.from_name ? { name: m.from_name, address: fromAddress } : fromAddress,
        to: email,
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        messageId: smtpMessageId,
        headers: {
          'List-Unsubscribe': `<${mail.links.oneClickUrl}>, <mailto:unsubscribe@${domain}?subject=unsubscribe-${unsubscribeToken}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          'X-Offerflow-Message': String(id),
          ...(m.campaign_id !== null ? { 'X-Offerflow-Campaign': String(m.campaign_id) } : {}),
          ...(m.trigger_id !== null ? { 'X-Offerflow-Trigger': String(m.trigger_id) } : {}),
        },
      });
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
    // deadlock or a lost connection does not turn into a second copy.
    await withTransientRetry(() =>
      recordSent(deps.sql, {
        id,
        smtpMessageId,
        reply,
        at,
        data: { offer_ids: m.offer_ids, variant: m.variant, template_version: m.template_version },
      }),
    );
    return { outcome: 'sent', messageId: smtpMessageId };
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
