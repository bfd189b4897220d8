import type { Context } from 'hono';
import type { App, AppEnv } from '../../http/env.js';
import { applyDeliveryReports } from '../apply.js';
import { claimReceipt, hasReceipt } from '../store.js';
import { verifyMailgun } from './mailgun.js';
import { verifyPostmark } from './postmark.js';
import { SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, verifySendgrid } from './sendgrid.js';
import { verifySes } from './ses.js';
import { createSnsClient, type SnsClient } from './sns.js';
import { refused, type VerifiedWebhook } from './verified.js';

type Provider = 'ses' | 'sendgrid' | 'postmark' | 'mailgun';

let fallbackSns: SnsClient | undefined;

/** The app's SNS client, or one fetching client shared by the process. */
function snsOf(deps: { sns?: SnsClient | undefined }): SnsClient {
  if (deps.sns) return deps.sns;
  fallbackSns ??= createSnsClient();
  return fallbackSns;
}

/**
 * Verifies, then applies: nothing is read from a webhook's body before its signature checks
 * out, and a request seen before (its replay key) is refused like a forged one. The request's
 * key is noted after its reports are applied, so a request that failed half-way may come again.
 */
async function receive(
  c: Context<AppEnv>,
  provider: Provider,
  verify: (body: string) => Promise<VerifiedWebhook> | VerifiedWebhook,
) {
  const deps = c.var.deps;
  const body = await c.req.text();
  const verified = await verify(body);
  const requests = `${provider}:request`;
  if (await hasReceipt(deps.sql, requests, verified.replayKey))
    throw refused('This request was received before (a replay)');
  if (verified.subscribeUrl) {
    await snsOf(deps).confirmSubscription(verified.subscribeUrl);
  }
  const result = await applyDeliveryReports(deps, provider, verified.reports);
  await claimReceipt(deps.sql, requests, verified.replayKey);
  c.var.log.info({ provider, ...result }, 'esp webhook');
  return c.json({ provider, ...result }, 200);
}

const topicsOf = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/**
 * ESP webhooks (outside /v1: the provider's signature is the credential, not an API key):
 * bounces, complaints and deliveries, mapped to the same contact events and suppressions as
 * the DSNs that `offerflow inbound` reads. A forged, stale or replayed request is a 401.
 */
export function registerEspWebhookRoutes(app: App): void {
  app.post('/webhooks/ses', (c) =>
    receive(c, 'ses', (body) =>
      verifySes(body, {
        topics: topicsOf(c.var.deps.config.SES_SNS_TOPIC_ARNS),
        client: snsOf(c.var.deps),
        now: c.var.deps.clock(),
      }),
    ),
  );
  app.post('/webhooks/sendgrid', (c) =>
    receive(c, 'sendgrid', (body) =>
      verifySendgrid(
        body,
        { signature: c.req.header(SENDGRID_SIGNATURE), timestamp: c.req.header(SENDGRID_TIMESTAMP) },
        {
          publicKey: c.var.deps.config.SENDGRID_WEBHOOK_PUBLIC_KEY,
          now: c.var.deps.clock(),
          toleranceSeconds: c.var.deps.config.WEBHOOK_TOLERANCE_SECONDS,
        },
      ),
    ),
  );
  app.post('/webhooks/postmark', (c) =>
    receive(c, 'postmark', (body) =>
      verifyPostmark(body, c.req.header('authorization'), {
        user: c.var.deps.config.POSTMARK_WEBHOOK_USER,
        password: c.var.deps.config.POSTMARK_WEBHOOK_PASSWORD,
      }),
    ),
  );
  app.post('/webhooks/mailgun', (c) =>
    receive(c, 'mailgun', (body) =>
      verifyMailgun(body, {
        signingKey: c.var.deps.config.MAILGUN_WEBHOOK_SIGNING_KEY,
        now: c.var.deps.clock(),
        toleranceSeconds: c.var.deps.config.WEBHOOK_TOLERANCE_SECONDS,
      }),
    ),
  );
}
