import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
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

/**
 * Mails the confirmation of each open request not mailed yet (a batch, rows claimed with SKIP
 * LOCKED so several senders share the work). A request is marked mailed in the transaction
 * that holds it, after the SMTP server accepted the mail; a 5xx marks it failed for good.
 * The mail goes out as campaign mail does: from the default sender identity, with its Reply-To
 * and DKIM key over the same signed headers, and a Message-ID that a retry keeps.
 */
export async function mailPendingOptIns(deps: OptInMailerDeps, limit = 50): Promise<number> {
  return deps.sql.begin(async (tx) => {
    const rows = await tx<{ id: number; email: string }[]>`
      select id, email from opt_in_requests
      where mailed_at is null and mail_error is null and confirmed_at is null and expires_at > now()
      order by requested_at limit ${limit}
      for update skip locked`;
    if (rows.length === 0) return 0;
    const identities = deps.identities ?? createIdentityResolver({ sql: deps.sql, config: deps.config });
    const identity = await identities.resolve(null);
    const installId = await installationId(tx);
    const domain = identityDomain(identity);
    const days = deps.config.OPT_IN_LINK_DAYS;
    let mailed = 0;
    for (const row of rows) {
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
        await tx`update opt_in_requests set mailed_at = now() where id = ${row.id}`;
        mailed += 1;
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode ?? 0;
        if (code >= 500) {
          await tx`update opt_in_requests set mail_error = ${String((error as Error).message).slice(0, 500)} where id = ${row.id}`;
          continue;
        }
        // Temporary: the row stays unmailed and the next poll tries again.
        deps.logger.warn({ opt_in_request: row.id, err: (error as Error).message }, 'opt-in mail deferred');
      }
    }
    return mailed;
  });
}
