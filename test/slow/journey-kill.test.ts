import { type ChildProcess, spawn } from 'node:child_process';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// A journey worker process SIGKILLed mid-journey, with customers inside waits and sends, then a
// new one started: every customer still runs each step exactly once (no step run twice, none
// skipped), gets each mail once (read from the SMTP sink with mailparser), and finishes.

const CUSTOMERS = 600;
const STEPS = ['first_wait', 'first_mail', 'second_wait', 'second_mail', 'end'];
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
const children = new Set<ChildProcess>();

const env = () => ({
  QUEUE_PREFIX: h.queuePrefix,
  RECONCILE_INTERVAL_MS: '500',
  RECONCILE_IDLE_SECONDS: '3',
  WORKER_LOCK_MS: '3000',
});

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, CUSTOMERS, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  // The sender and the reconciler stay up in this process: only the journey worker dies.
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['sender', 'reconciler'],
    env: { ...env(), SEND_CONCURRENCY: '20' },
    logger: h.deps.logger,
  });
}, 120_000);
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await workers?.close();
  await sink?.close();
  await h?.close();
});

function spawnJourneyWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', 'journey'], {
    env: {
      ...process.env,
      ...env(),
      DATABASE_URL: h.db.url,
      SMTP_URL: sink.url,
      JOURNEY_CONCURRENCY: '20',
      // Small sweep pages, so that the kill lands between pages with customers at both waits
      // (pages of 500 would take all 600 through their first mail in one or two transactions).
      JOURNEY_SWEEP_PAGE: '20',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const count = async (query: Promise<{ n: number }[]>) => (await query)[0]!.n;

describe('journey worker killed mid-journey', () => {
  it('every customer runs each step once, gets each mail once and finishes', async () => {
    const res = await h.post('/v1/journeys', {
      name: 'Kill me',
      entry: { segment_id: shop.segmentId },
      start: 'first_wait',
      steps: [
        { id: 'first_wait', type: 'wait', seconds: 1, next: 'first_mail' },
        {
          id: 'first_mail',
          type: 'send_email',
          template_id: shop.templateId,
          offers_per_email: 2,
          subject: 'First for {{customer.first_name}}',
          next: 'second_wait',
        },
        { id: 'second_wait', type: 'wait', seconds: 3, next: 'second_mail' },
        {
          id: 'second_mail',
          type: 'send_email',
          template_id: shop.templateId,
          subject: 'Second for {{customer.first_name}}',
          next: 'end',
        },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    const id = (await json(res)).id;
    const first = spawnJourneyWorker();
    expect((await h.post(`/v1/journeys/${id}/activate`)).status).toBe(200);

    // Killed once a third of the first mails are written: the rest are in the first wait or
    // inside their send, those mailed are in the second wait.
    await until(
      async () =>
        (await count(h.db.sql`select count(*)::int as n from journey_step_runs
          where journey_id = ${id} and step = 'first_mail'`)) >=
        CUSTOMERS / 3,
      120_000,
    );
    first.kill('SIGKILL');
    const atKill = await h.db.sql<{ status: string; step: string; n: number }[]>`
      select status, step, count(*)::int as n from journey_entries where journey_id = ${id} group by 1, 2`;
    const entered = atKill.reduce((sum, r) => sum + r.n, 0);
    expect(atKill.filter((r) => r.status !== 'active')).toEqual([]);
    expect(atKill.some((r) => r.step === 'first_wait')).toBe(true);
    expect(atKill.some((r) => r.step === 'second_wait')).toBe(true);

    spawnJourneyWorker();
    await until(
      async () =>
        (await count(h.db.sql`select count(*)::int as n from journey_entries
          where journey_id = ${id} and status = 'completed'`)) === entered,
      180_000,
    );
    expect(
      await count(h.db.sql`select count(*)::int as n from journey_entries where journey_id = ${id}`),
    ).toBe(entered);

    // Each entry ran each step once, in order.
    const runs = await h.db.sql<{ entry_id: number; steps: string[] }[]>`
      select entry_id, array_agg(step order by seq) as steps from journey_step_runs
      where journey_id = ${id} group by entry_id`;
    expect(runs).toHaveLength(entered);
    for (const run of runs) expect(run.steps).toEqual(STEPS);
    const events = await count(h.db.sql`select count(*)::int as n from contact_events
      where kind = 'journey_step' and (data ->> 'journey_id')::bigint = ${id}`);
    expect(events).toBe(entered * STEPS.length);

    // One ledger row per send step per customer; every eligible customer's mail is sent.
    const ledger = await h.db.sql<{ customer_id: number; journey_step: string; status: string }[]>`
      select customer_id, journey_step, status from messages where journey_id = ${id}`;
    expect(ledger).toHaveLength(entered * 2);
    const keys = new Set(ledger.map((m) => `${m.customer_id}:${m.journey_step}`));
    expect(keys.size).toBe(entered * 2);
    await until(
      async () =>
        (await count(h.db.sql`select count(*)::int as n from messages
          where journey_id = ${id} and status in ('queued', 'sending')`)) === 0,
      120_000,
    );
    const sent = await h.db.sql<{ customer_id: number }[]>`
      select customer_id from messages where journey_id = ${id} and status = 'sent'`;
    const sentTo = new Set(sent.map((m) => m.customer_id));
    for (const customerId of shop.eligible.keys()) expect(sentTo.has(customerId)).toBe(true);
    expect(sent).toHaveLength(shop.eligible.size * 2);

    // The sink: each eligible address got the first and the second mail, once each.
    const got = new Map<string, string[]>();
    for (const raw of sink.messages) {
      const mail = await simpleParser(raw);
      if (mail.headers.get('x-offerflow-journey') !== String(id)) continue;
      const to = (mail.to as { text: string }).text;
      got.set(to, [...(got.get(to) ?? []), String(mail.subject)]);
    }
    expect(got.size).toBe(shop.eligible.size);
    for (const { email, first_name } of shop.eligible.values())
      expect(got.get(email)?.sort()).toEqual([`First for ${first_name}`, `Second for ${first_name}`]);
  }, 400_000);
});
