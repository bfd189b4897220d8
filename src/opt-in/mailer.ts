import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db, Sql } from '../db/sql.js';
import { ledgerMessageId, mailOptions } from '../mail/headers.js';
import { installationId } from '../mail/installation.js';
import {
  createIdentityResolver,
  type IdentityConfig,
  type IdentityResolver,
  identityDomain,
} from '../senders/identity.js';
import { optInToken } from './requests.js';

export interface OptInMailerDeps {
  sql: Sql;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'PUBLIC_URL' | 'OPT_IN_LINK_DAYS'> & IdentityConfig;
  transport: Transporter;
  logger: Logger;
  /** The senders' resolver (cached keys); one is made per call when absent. */
  identities?: IdentityResolver | undefined;
}

/** The confirmation link of a request. */
export const optInUrl = (config: Pick<Config, 'PUBLIC_URL' | 'OFFERFLOW_SECRET'>, id: number) =>
  `${config.PUBLIC_URL.replace(/\/$/, '')}/opt-in/${optInToken(config.OFFERFLOW_SECRET, id)}`;

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The list (List-Id, Feedback-ID) confirmation mails belong to. */
const SOURCE = 'opt-in';

/** One unmailed, open request not tried yet in this poll, locked until its transaction ends (others skip it). */
async function claimNext(tx: Db, tried: number[]): Promise<{ id: number; email: string } | undefined> {
  const [row] = await tx<{ id: number; email: string }[]>`
    select id, email from opt_in_requests
    where mailed_at is null and mail_error is null and confirmed_at is null and expires_at > now()
      and id <> all(${tried}::bigint[])
    order by requested_at limit 1
    for update skip locked`;
  return row;
}

/**
 * Mails the confirmation of open requests not mailed yet, up to `limit`, one transaction per
 * request: the row is locked (SKIP LOCKED, so several senders share the work), mailed, and
 * marked mailed in that transaction, after the SMTP server accepted the mail; a 5xx marks it
 * failed for good. So a process that dies mid-way re-sends at most the one mail it had out
 * (the window campaign mail has), not the batch. The mail goes out as campaign mail does: from
 * the default sender identity, with its Reply-To and DKIM key over the same signed headers,
 * and a Message-ID that a retry keeps.
 */
export async function mailPendingOptIns(deps: OptInMailerDeps, limit = 50): Promise<number> {
  const identities = deps.identities ?? createIdentityResolver({ sql: deps.sql, config: deps.config });
  let mailed = 0;
  // A request deferred (a 4xx for that address) is left for the next poll, not retried now.
  const tried: number[] = [];
  for (let i = 0; i < limit; i++) {
    const outcome = await deps.sql.begin(async (tx) => {
      const row = await claimNext(tx, tried);
      if (!row) return 'none' as const;
      tried.push(row.id);
      return mailOne(deps, tx, identities, row);
    });
    if (outcome === 'none') break;
    if (outcome === 'mailed') mailed += 1;
  }
  return mailed;
}

async function mailOne(
  deps: OptInMailerDeps,
  tx: Db,
  identities: IdentityResolver,
  row: { id: number; email: string },
): Promise<'mailed' | 'failed' | 'deferred'> {
  const identity = await identities.resolve(null);
  const installId = await installationId(tx);
  const domain = identityDomain(identity);
  const days = deps.config.OPT_IN_LINK_DAYS;
  const url = optInUrl(deps.config, row.id);
  const message = mailOptions(
    {
      identity,
      installId,
      kind: 'automated',
      source: SOURCE,
      to: row.email,
      subject: 'Please confirm your subscription',
      text: `Please confirm that you want to receive our offers by email:\n\n${url}\n\nThe link works for ${days} days. If you did not ask for this, ignore this mail: nothing will be sent to you.\n`,
      html: `<!doctype html><html lang="en"><body><p>Please confirm that you want to receive our offers by email.</p><p><a href="${escapeHtml(url)}">Confirm my subscription</a></p><p>The link works for ${days} days. If you did not ask for this, ignore this mail: nothing will be sent to you.</p></body></html>`,
      unsubscribe: null,
      extra: { 'X-Offerflow-Opt-In': String(row.id) },
    },
    ledgerMessageId({ messageId: row.id, source: SOURCE, installId, domain }),
  );
  try {
    await deps.transport.sendMail(message);
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode ?? 0;
    if (code >= 500) {
      await tx`update opt_in_requests set mail_error = ${String((error as Error).message).slice(0, 500)} where id = ${row.id}`;
      return 'failed';
    }
    // Temporary (a 4xx, the server away): the row stays unmailed and the next poll tries again.
    deps.logger.warn({ opt_in_request: row.id, err: (error as Error).message }, 'opt-in mail deferred');
    return 'deferred';
  }
  await tx`update opt_in_requests set mailed_at = now() where id = ${row.id}`;
  return 'mailed';
}
