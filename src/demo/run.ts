import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { pino } from 'pino';
import { createApp } from '../app.js';
import { campaignProgress, createCampaign, launchCampaign } from '../campaigns/lifecycle.js';
import { enqueuePlanner } from '../campaigns/planner-job.js';
import { findCampaign } from '../campaigns/store.js';
import { startWorkers } from '../cli/queue-workers.js';
import type { Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql, type Sql } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { startSmtpSink } from '../dev/smtp-sink.js';
import { createApiKey } from '../http/api-keys.js';
import { createRedis } from '../queue/connection.js';
import { createBullDispatcher } from '../queue/dispatcher.js';
import { createSenderIdentity } from '../senders/service.js';
import { findSenderByFrom } from '../senders/store.js';
import { flushTrackingEvents } from '../tracking/event-buffer.js';
import { messageLinks } from '../tracking/links.js';
import { createTrigger, updateTrigger } from '../triggers/manage.js';
import { userWithLink } from '../users/first-admin.js';
import { ensureCartJourney, simulateCarts } from './abandoned-cart.js';
import { seedShop } from './seed.js';
import { random } from './shop.js';
import { campaignSummary, findTriggerByName, offerCategories, sentMessages, triggerSince } from './store.js';

export interface DemoOptions {
  config: Config;
  /** Where the sink keeps mails (default .offerflow/outbox). */
  outboxDir?: string;
  out?: (line: string) => void;
  /** Show a progress bar (a terminal). */
  progress?: boolean;
  timeoutMs?: number;
}

export interface DemoResult {
  campaignId: number;
  sent: number;
  outboxDir: string;
  sampleEml: string | null;
}

const QUEUE_PREFIX = 'offerflow-demo';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The demo, end to end: SMTP sink, migrations, the sample shop, one A/B campaign through the
 * real planner, sender and reconciler workers and real SMTP, some simulated opens, clicks and
 * purchases through the HTTP endpoints, then a summary.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const outboxDir = resolve(options.outboxDir ?? '.offerflow/outbox');
  await mkdir(outboxDir, { recursive: true });
  const sink = await startSmtpSink({ outboxDir });
  const config: Config = { ...options.config, SMTP_URL: sink.url };
  const sql = createSql(config.DATABASE_URL, { max: 10 });
  const redis = createRedis(config.REDIS_URL);
  const jobs = createBullDispatcher(redis, QUEUE_PREFIX);
  const silent = pino({ level: 'silent' });
  let workers: Awaited<ReturnType<typeof startWorkers>> | undefined;
  try {
    out(`SMTP sink listening on ${sink.url}, keeping mail in ${outboxDir}`);
    const migrated = await migrate(sql);
    if (migrated.applied.length > 0) out(`applied migrations: ${migrated.applied.join(', ')}`);
    const now = new Date();
    const seed = await seedShop(sql, now, (line) => out(line), config.PUBLIC_URL);
    const sender = await demoSender(sql, config);
    out(
      `sending as ${sender.from_address}, DKIM-signed (d=${sender.dkim_domain} s=${sender.dkim_selector}) with a key made for the demo; its DNS records: offerflow senders dns ${sender.id}`,
    );
    out(
      seed.skipped
        ? `sample shop already seeded (${seed.customers} customers, ${seed.purchases} purchases)`
        : `seeded ${seed.customers} customers, ${seed.purchases} purchases, ${seed.offers} offers`,
    );
    const template = seed.templates.find((t) => /offer/i.test(t.name)) ?? seed.templates[0];
    if (!template) throw new Error('installDefaultTemplates installed no template');

    // Purchases fire this automated email: the simulated ones below show it at work.
    const thankYouTemplate = seed.templates.find((t) => /purchase/i.test(t.name)) ?? template;
    const thankYou =
      (await findTriggerByName(sql, THANK_YOU)) ??
      (
        await createTrigger(sql, {
          name: THANK_YOU,
          event: 'purchase',
          template_id: thankYouTemplate.id,
          offers_per_email: 2,
          delay: { hours: 0 },
          sender_id: sender.id,
        })
      ).id;
    await updateTrigger(sql, thankYou, { sender_id: sender.id });
    // Carts left behind start this journey: an order within its wait ends it, silence sends a reminder.
    const cartJourney = await ensureCartJourney(sql, { template_id: template.id, sender_id: sender.id });

    workers = await startWorkers({
      config,
      roles: ['planner', 'sender', 'reconciler', 'trigger', 'journey'],
      env: {
        ...process.env,
        QUEUE_PREFIX,
        RECONCILE_INTERVAL_MS: '1000',
        RECONCILE_IDLE_SECONDS: '20',
        SEND_CONCURRENCY: '20',
      },
      logger: pino({ level: 'warn' }),
    });

    const stamp = now.toISOString().slice(0, 16).replace('T', ' ');
    const created = await createCampaign(sql, {
      name: `Demo A/B campaign ${stamp}`,
      segment_id: seed.segmentId,
      template_id: template.id,
      offers_per_email: 3,
      variants: [
        { name: 'A', weight: 50 },
        { name: 'B', weight: 50, subject: '{{customer.first_name}}, your picks are waiting' },
      ],
      throttle_per_second: null,
      attribution: { click_days: 7, open_days: 1 },
      sender_id: sender.id,
    });
    const launched = await launchCampaign(sql, created.id, new Date());
    await enqueuePlanner(jobs, launched.campaign, new Date());
    out(
      `launched campaign ${created.id} "${created.name}" (template "${template.name}" v${template.latest_version}, variants A/B)`,
    );

    const bar = options.progress
      ? new SingleBar({ format: '  sending [{bar}] {value}/{total} | {rate}/s' })
      : undefined;
    bar?.start(1, 0, { rate: 0 });
    const deadline = Date.now() + (options.timeoutMs ?? 240_000);
    let lastDone = -1;
    let lastMove = Date.now();
    for (;;) {
      const row = await findCampaign(sql, created.id);
      if (!row) throw new Error('the campaign vanished');
      const p = await campaignProgress(sql, row);
      const toSend = p.total - p.counts.suppressed!;
      bar?.setTotal(Math.max(1, toSend));
      bar?.update(p.counts.sent! + p.counts.failed!, { rate: p.rate_per_second.toFixed(0) });
      if (row.status === 'sent') break;
      const done = p.total + p.counts.sent! + p.counts.failed!;
      if (done !== lastDone) [lastDone, lastMove] = [done, Date.now()];
      if (Date.now() > deadline || Date.now() - lastMove > 60_000) {
        throw new Error(
          `the campaign is stuck (status ${row.status}, ${JSON.stringify(p.counts)}); see the worker logs above`,
        );
      }
      await sleep(300);
    }
    bar?.stop();

    const deps: AppDeps = { sql, config, logger: silent, redis, jobs, clock: () => new Date() };
    const simulated = new Date();
    const purchases = await simulate(deps, created.id, out);
    const automated = await awaitTrigger(sql, thankYou, simulated, purchases, out);
    const carts = await simulateCarts(deps, cartJourney, created.id);
    await workers.close();
    workers = undefined;

    const summary = await campaignSummary(sql, created.id);
    const count = (status: string) =>
      summary.statuses.filter((s) => s.status === status).reduce((n, s) => n + s.n, 0);
    const sent = count('sent');
    out('');
    out(
      `Campaign ${created.id}: ${sent} emails sent, ${count('suppressed')} suppressed, ${count('failed')} failed`,
    );
    for (const s of summary.statuses.filter((x) => x.status === 'suppressed'))
      out(`  suppressed (${s.reason}): ${s.n}`);
    out(`  by variant: ${summary.variants.map((v) => `${v.variant} ${v.n}`).join(', ')}`);
    out('Offers sent (people per offer):');
    for (const o of summary.offers) out(`  ${String(o.n).padStart(5)}  ${o.name}`);
    const sampleEml = summary.sample
      ? resolve(
          outboxDir,
          `${summary.sample.smtp_message_id.replace(/[<>]/g, '').replace(/[^\w.@+-]/g, '_')}.eml`,
        )
      : null;
    if (sampleEml) out(`A sample email (variant ${summary.sample!.variant}): ${sampleEml}`);
    out(automated);
    out(carts);
    out(`All ${sink.accepted} mails of this run are in ${outboxDir}`);
    await printReport(deps, created.id, out);
    return { campaignId: created.id, sent, outboxDir, sampleEml };
  } finally {
    await workers?.close();
    await jobs.close();
    redis.disconnect();
    await sql.end({ timeout: 5 });
    await sink.close();
  }
}

const THANK_YOU = 'Demo: thank you for your order';
const DEMO_FROM = 'offers@shop.example';

/**
 * The demo's sender identity: La Boutique, replies to its service desk, DKIM-signed with a key
 * generated for it on the first run (kept encrypted, like any sender's).
 */
async function demoSender(sql: Sql, config: Config) {
  const found = await findSenderByFrom(sql, DEMO_FROM);
  if (found?.dkim_private_key_encrypted) return found;
  return sql.begin((tx) =>
    createSenderIdentity(tx, config, {
      from_address: DEMO_FROM,
      from_name: 'La Boutique',
      reply_to: 'service@shop.example',
      dkim_domain: 'shop.example',
      dkim_selector: 'demo',
    }),
  );
}

/**
 * Waits (30 s at most) until each simulated purchase has fired the thank-you trigger and its
 * email left the queue, and says what happened: sent, suppressed and why, capped.
 */
async function awaitTrigger(
  sql: Sql,
  triggerId: number,
  since: Date,
  purchases: number,
  out: (line: string) => void,
): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { firings, messages } = await triggerSince(sql, triggerId, since);
    const fired = firings.reduce((n, f) => n + f.n, 0);
    const pending = messages.filter((m) => m.status === 'queued' || m.status === 'sending');
    const done = fired >= purchases && pending.length === 0;
    if (done || Date.now() > deadline) {
      const sent = messages.filter((m) => m.status === 'sent').reduce((n, m) => n + m.n, 0);
      const others = messages
        .filter((m) => m.status !== 'sent')
        .map((m) => `${m.n} ${m.status}${m.reason ? ` (${m.reason})` : ''}`);
      const capped = firings.find((f) => f.outcome === 'capped')?.n ?? 0;
      if (!done)
        out(`(the thank-you emails were still on their way after 30 s: ${fired} of ${purchases} fired)`);
      return `Automated "${THANK_YOU}": ${purchases} purchases fired it, ${sent} emails sent${[...others, ...(capped ? [`${capped} over the frequency cap`] : [])].map((x) => `, ${x}`).join('')}`;
    }
    await sleep(200);
  }
}

/** Some opens, clicks and purchases, through the same HTTP endpoints a mail client would hit. */
async function simulate(deps: AppDeps, campaignId: number, out: (line: string) => void): Promise<number> {
  const app = createApp(deps);
  const { key } = await createApiKey(deps.sql, { name: `demo ${new Date().toISOString()}`, role: 'admin' });
  const messages = await sentMessages(deps.sql, campaignId);
  if (messages.length === 0) return 0;
  // The tracking endpoints flag clicks within seconds of delivery as link scanners: wait them out.
  const lastSent = Math.max(...messages.map((m) => m.sent_at.getTime()));
  const wait = lastSent + 11_000 - Date.now();
  if (wait > 0) {
    out(`waiting ${Math.ceil(wait / 1000)} s so that the simulated clicks are not taken for link scanners…`);
    await sleep(wait);
  }
  const rand = random(campaignId);
  const categories = await offerCategories(deps.sql, [...new Set(messages.flatMap((m) => m.offer_ids))]);
  const browser = {
    'user-agent':
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15',
  };
  let opens = 0;
  let clicks = 0;
  let purchases = 0;
  let missing = false;
  const orders: Record<string, unknown>[] = [];
  for (const m of messages) {
    if (rand() > 0.45) continue;
    const links = messageLinks(deps.config.PUBLIC_URL, deps.config.OFFERFLOW_SECRET, m.id);
    const path = (url: string) => new URL(url).pathname;
    const open = await app.request(path(links.openPixelUrl), { headers: browser });
    if (open.status === 404 && !open.headers.get('content-type')?.includes('image')) missing = true;
    else opens += 1;
    if (m.offer_ids.length === 0 || rand() > 0.4) continue;
    const position = Math.floor(rand() * m.offer_ids.length);
    const click = await app.request(path(links.offerUrl(position)), { headers: browser });
    if (click.status === 302) clicks += 1;
    if (rand() > 0.35) continue;
    const category = categories.get(m.offer_ids[position]!) ?? 'garden';
    orders.push({
      external_line_id: `demo-conversion-${m.id}`,
      customer_id: m.customer_id,
      order_ref: `demo-conversion-${m.id}`,
      sku: `${(category ?? 'misc').toUpperCase().slice(0, 4)}-PROMO`,
      category,
      amount: Math.round((20 + rand() * 150) * 100) / 100,
      currency: 'EUR',
      source: 'demo-shop',
    });
  }
  // Opens and clicks are written in batches: the purchases come after them, as they would, so
  // that each is attributed to the click before it.
  await flushTrackingEvents(deps);
  for (const order of orders) {
    const res = await app.request('/v1/purchases', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...order, purchased_at: new Date().toISOString() }),
    });
    if (res.status < 300) purchases += 1;
  }
  if (missing) out('(the tracking endpoints are not there yet: opens and clicks were not simulated)');
  else
    out(
      `simulated ${opens} opens, ${clicks} clicks and ${purchases} purchases through /t/o, /t/c and /v1/purchases`,
    );
  return purchases;
}

/** The campaign report, when the reports module answers. */
async function printReport(deps: AppDeps, campaignId: number, out: (line: string) => void): Promise<void> {
  const app = createApp(deps);
  const { key } = await createApiKey(deps.sql, {
    name: `demo report ${new Date().toISOString()}`,
    role: 'analyst',
  });
  const res = await app.request(`/v1/reports/campaigns/${campaignId}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  if (res.ok) {
    const report = (await res.json()) as Record<string, unknown>;
    const totals = (report.totals ?? report) as Record<string, unknown>;
    const pick = ['sent', 'opens', 'clicks', 'conversions', 'revenue', 'open_rate', 'click_rate'];
    out(
      `Report: ${pick
        .filter((k) => k in totals)
        .map((k) => `${k} ${k === 'revenue' ? Number(totals[k]).toFixed(2) : fmt(totals[k])}`)
        .join(', ')}`,
    );
  }
  const admin = await userWithLink(deps.sql, deps.config, {
    email: 'admin@shop.example',
    name: 'Demo admin',
    role: 'admin',
    now: new Date(),
  });
  out(`Sign in to the web UI: npm run cli -- serve, then open`);
  out(`  ${admin.url}`);
  out(`  (choose a password for admin@shop.example; the link works once)`);
  out(`The full report: npm run cli -- serve, then`);
  out(`  curl -H "Authorization: Bearer $KEY" ${deps.config.PUBLIC_URL}/v1/reports/campaigns/${campaignId}`);
  out(`  (make a key with: npm run -s cli -- keys create --name me --role analyst | tail -n 1)`);
}

const fmt = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v));
