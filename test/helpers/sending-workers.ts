import { type ParsedMail, simpleParser } from 'mailparser';
import { expect } from 'vitest';
import {
  type RunningWorkers,
  startWorkers,
  WORKER_ROLES,
  type WorkerRole,
} from '../../src/cli/queue-workers.js';
import type { Config } from '../../src/config.js';
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from '../../src/dev/smtp-sink.js';
import type { ShopFixture } from './campaign-fixtures.js';
import { type Harness, json } from './harness.js';
import { until } from './until.js';

/** The real worker roles of a harness, mailing into an in-memory SMTP sink. */
export interface SendingWorkers {
  sink: SmtpSink;
  workers: RunningWorkers;
  /** Every mail the sink has accepted so far, each parsed once however often this is called. */
  mails(): Promise<ParsedMail[]>;
  /** The mails of one campaign (its `X-Offerflow-Campaign` header). */
  mailsOf(campaignId: number): Promise<ParsedMail[]>;
  /** Starts another process's worth of `roles` on the same sink and queues (closed with the rest). */
  addWorkers(roles: readonly WorkerRole[]): Promise<RunningWorkers>;
  close(): Promise<void>;
}

export interface SendingWorkersOptions {
  /** Every role unless told (planner, sender, reconciler, trigger, …). */
  roles?: readonly WorkerRole[];
  /** Worker tunables over the defaults below (QUEUE_PREFIX is always the harness's). */
  env?: Record<string, string>;
  /** Config over the harness's (DATABASE_URL and SMTP_URL are set here). */
  config?: Partial<Config>;
  sink?: SmtpSinkOptions;
}

/**
 * Starts an SMTP sink and the worker roles against a harness's database and queues. Defaults
 * keep tests quick: the reconciler ticks every 300 ms and ten sends run at once.
 */
export async function startSendingWorkers(
  h: Harness,
  options: SendingWorkersOptions = {},
): Promise<SendingWorkers> {
  const sink = await startSmtpSink({ keepInMemory: true, ...options.sink });
  const start = (roles: readonly WorkerRole[]) =>
    startWorkers({
      config: { ...h.deps.config, ...options.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
      roles,
      env: {
        RECONCILE_INTERVAL_MS: '300',
        SEND_CONCURRENCY: '10',
        ...options.env,
        QUEUE_PREFIX: h.queuePrefix,
      },
      logger: h.deps.logger,
    });
  const running: RunningWorkers[] = [];
  let workers: RunningWorkers;
  try {
    workers = await start(options.roles ?? WORKER_ROLES);
    running.push(workers);
  } catch (err) {
    await sink.close();
    throw err;
  }
  // Keyed by the raw buffer: the sink keeps each one, so a mail is parsed once.
  const parsed = new Map<Buffer, ParsedMail>();
  const mails = async () => {
    for (const raw of sink.messages) if (!parsed.has(raw)) parsed.set(raw, await simpleParser(raw));
    return [...parsed.values()];
  };
  return {
    sink,
    workers,
    mails,
    mailsOf: async (campaignId) =>
      (await mails()).filter((m) => m.headers.get('x-offerflow-campaign') === String(campaignId)),
    addWorkers: async (roles) => {
      const more = await start(roles);
      running.push(more);
      return more;
    },
    close: async () => {
      for (const w of running) await w.close();
      await sink.close();
    },
  };
}

/** Waits until a campaign reaches `status` (sent by default) and returns its view. */
export function waitForCampaign(
  h: Harness,
  id: number,
  status = 'sent',
  ms = 60_000,
): Promise<Record<string, unknown>> {
  return until(async () => {
    const view = await json(await h.get(`/v1/campaigns/${id}`));
    return view.status === status && view;
  }, ms);
}

/**
 * Creates a campaign over the shop's segment and template (fields in `body` win), launches it
 * and waits until it is sent; returns its id.
 */
export async function launchAndFinish(
  h: Harness,
  shop: Pick<ShopFixture, 'segmentId' | 'templateId'>,
  body: Record<string, unknown> = {},
  ms = 60_000,
): Promise<number> {
  const res = await h.post('/v1/campaigns', {
    name: 'Test campaign',
    segment_id: shop.segmentId,
    template_id: shop.templateId,
    offers_per_email: 1,
    from: { address: 'offers@shop.example', name: 'Shop' },
    ...body,
  });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  const { id } = await json(res);
  const launched = await h.post(`/v1/campaigns/${id}/launch`);
  expect(launched.status, await launched.clone().text()).toBe(200);
  await waitForCampaign(h, id, 'sent', ms);
  return id;
}
