import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { AppDeps } from '../deps.js';
import { AppError, invalid } from '../http/problem.js';
import { mailOptions, oneOffMessageId } from '../mail/headers.js';
import { installationId } from '../mail/installation.js';
import { createIdentityResolver, identityDomain, parseFrom } from '../senders/identity.js';
import { senderExists } from '../senders/store.js';
import { compileTemplateSource } from './compile.js';
import { expandPartials } from './partials.js';
import { type PreviewInput, previewData } from './preview.js';
import {
  type CompiledVersion,
  checkVersionRenders,
  compileVersion,
  loadTemplateVersion,
  renderForCustomer,
} from './render.js';
import { selectVersion } from './store.js';

export interface TestSendInput extends PreviewInput {
  to: string;
  sender_id?: number;
  from?: string;
  /** Edits from the form not saved yet: sent instead of the stored version's. */
  subject?: string;
  preheader?: string | null;
  mjml?: string;
}

type Deps = Pick<AppDeps, 'sql' | 'config' | 'clock'>;

/** The version to render: the stored one, or the form's unsaved edits over it (checked like a save). */
async function versionToSend(deps: Deps, templateId: number, input: TestSendInput): Promise<CompiledVersion> {
  if (input.subject === undefined && input.preheader === undefined && input.mjml === undefined)
    return loadTemplateVersion(deps.sql, templateId, input.version);
  const stored = await loadTemplateVersion(deps.sql, templateId, input.version);
  const row = await selectVersion(deps.sql, templateId, stored.version);
  const source = {
    subject: input.subject ?? row!.subject,
    preheader: input.preheader !== undefined ? input.preheader : row!.preheader,
    mjml: (await expandPartials(deps.sql, input.mjml ?? row!.mjml)).mjml,
  };
  const compiled = await compileTemplateSource(source);
  checkVersionRenders({ ...source, ...compiled });
  // Version 0: an unsaved draft, never cached.
  return compileVersion({ template_id: templateId, version: 0, ...source, ...compiled });
}

/**
 * Sends one test of a template (the stored version, or the form's unsaved edits) to one address
 * through the same path as real mail: the sender identity's From, Reply-To and DKIM key, the
 * list headers and Feedback-ID. The subject is marked as a test.
 */
export async function testSendTemplate(deps: Deps, templateId: number, input: TestSendInput) {
  if (input.sender_id !== undefined && !(await senderExists(deps.sql, input.sender_id)))
    throw invalid([{ path: 'sender_id', in: 'body', message: `no sender ${input.sender_id}` }]);
  const version = await versionToSend(deps, templateId, input);
  const email = renderForCustomer(version, await previewData(deps, input));
  const resolved = await createIdentityResolver(deps).resolve(input.sender_id ?? null);
  const identity = input.from ? { ...resolved, from: parseFrom(input.from) } : resolved;
  const installId = await installationId(deps.sql);
  const source = `template-${templateId}`;
  const domain = identityDomain(resolved);
  const messageId = oneOffMessageId({ source, installId, domain, random: randomBytes(8).toString('hex') });
  const subject = `[Test] ${email.subject}`;
  const transport = nodemailer.createTransport(deps.config.SMTP_URL);
  try {
    const info = await transport.sendMail(
      mailOptions(
        {
          identity,
          installId,
          kind: 'test',
          source,
          to: input.to,
          subject,
          html: email.html,
          text: email.text,
          // A test has no ledger row: its unsubscribe link leads to a page that says so.
          unsubscribe: { oneClickUrl: `${deps.config.PUBLIC_URL}/u/test`, mailto: null },
          extra: { 'X-Offerflow-Template': String(templateId) },
        },
        messageId,
      ),
    );
    return {
      message_id: info.messageId,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      subject,
    };
  } catch (error) {
    const e = error as { responseCode?: number; response?: string; message: string };
    // The SMTP server refusing the mail is the caller's problem; not reaching it is ours (503).
    if (e.responseCode && e.responseCode >= 500)
      throw invalid([
        { path: 'to', in: 'body', message: `the SMTP server refused it: ${e.response ?? e.message}` },
      ]);
    throw new AppError(503, 'smtp-unavailable', `Could not send the test email: ${e.message}`);
  } finally {
    transport.close();
  }
}
