import nodemailer from 'nodemailer';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/problem.js';
import { createIdentityResolver } from '../senders/identity.js';

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * Mails a person a link of their account (an invitation, a password reset) from the default
 * sender identity (or MAIL_FROM), signed with its DKIM key, over the configured SMTP server.
 */
export async function sendAccountMail(
  deps: Pick<AppDeps, 'sql' | 'config'>,
  input: { to: string; subject: string; intro: string; url: string; action: string; outro: string },
): Promise<void> {
  const identity = await createIdentityResolver(deps).resolve(null);
  const transport = nodemailer.createTransport(deps.config.SMTP_URL);
  try {
    await transport.sendMail({
      from: identity.from,
      ...(identity.replyTo ? { replyTo: identity.replyTo } : {}),
      ...(identity.dkim ? { dkim: identity.dkim } : {}),
      to: input.to,
      subject: input.subject,
      text: `${input.intro}\n\n${input.action}: ${input.url}\n\n${input.outro}\n`,
      html: `<!doctype html><html lang="en"><body><p>${escapeHtml(input.intro)}</p><p><a href="${escapeHtml(input.url)}">${escapeHtml(input.action)}</a></p><p>${escapeHtml(input.outro)}</p></body></html>`,
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
  } catch (error) {
    throw new AppError(503, 'smtp-unavailable', `Could not send the mail: ${(error as Error).message}`);
  } finally {
    transport.close();
  }
}

/** The link of a user token, as mailed. */
export const accountLink = (
  config: Pick<AppDeps['config'], 'PUBLIC_URL'>,
  kind: 'invite' | 'reset',
  token: string,
) => `${config.PUBLIC_URL.replace(/\/$/, '')}/ui/${kind === 'invite' ? 'welcome' : 'reset'}/${token}`;
