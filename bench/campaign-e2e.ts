import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createCampaign, launchCampaign } from '../src/campaigns/lifecycle.js';
import { enqueuePlanner } from '../src/campaigns/planner-job.js';
import { WORKER_ROLES } from '../src/cli/queue-workers.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createSql, type Sql } from '../src/db/sql.js';
import type { JobDispatcher } from '../src/deps.js';
import { startSmtpSink } from '../src/dev/smtp-sink.js';
import { createMailTransport } from '../src/messages/transport.js';
import { refreshRecommendations } from '../src/products/refresh.js';
import { createRedis } from '../src/queue/connection.js';
import { createBullDispatcher } from '../src/queue/dispatcher.js';
import { loadTemplateVersion, renderForCustomer } from '../src/templates/render.js';
import { createTemplate } from '../src/templates/service.js';
import { messageLinks } from '../src/tracking/links.js';
import { type ShopFixture, seedCampaignShop } from '../test/helpers/campaign-fixtures.js';
import { ADMIN_URL, urlFor } from '../test/helpers/test-db.js';
import type { Bench, BenchResult } from './harness.js';

// End to end: launch → last `sent` for a campaign (planner, offer decisions, render, SMTP to a
// discarding sink) with real worker processes, against bare nodemailer pooled sending the same
// emails, rendered beforehand from the same template, to the same sink, in the same run.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startWorkerProcess(
  env: Record<string, string>,
  roles: readonly string[] = [],
): Promise<ChildProcess> {
  // BENCH_WORKER_ARGS: extra node flags for the workers, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const extra = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', 'src/cli.ts', 'worker', ...roles], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('workers started')) resolve(child);
      if (process.env.BENCH_VERBOSE) process.stderr.write(text);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

/**
 * Creates a campaign of the shop's segment and template, launches it and hands it to the
 * planner, then polls every `pollMs` (calling `onPoll`, e.g. to sample memory) until it is
 * `sent`. `started` is the launch time, from which the benches measure.
 */
export async function sendCampaign(
  sql: Sql,
  jobs: JobDispatcher,
  input: { name: string; segmentId: number; templateId: number },
  pollMs: number,
  onPoll?: () => Promise<void>,
): Promise<{ campaignId: number; started: number }> {
  const campaign = await createCampaign(sql, {
    name: input.name,
    segment_id: input.segmentId,
    template_id: input.templateId,
    offers_per_email: 2,
    from: { address: 'offers@shop.example' },
  });
  const started = Date.now();
  const launched = await launchCampaign(sql, campaign.id, new Date());
  await enqueuePlanner(jobs, launched.campaign, new Date());
  for (;;) {
    await onPoll?.();
    const [row] = await sql<{ status: string }[]>`select status from campaigns where id = ${campaign.id}`;
    if (row?.status === 'sent') return { campaignId: campaign.id, started };
    await sleep(pollMs);
  }
}

async function runCampaign(
  sql: Sql,
  env: Record<string, string>,
  processes: number,
  input: { segmentId: number; templateId: number },
) {
  // Every role but the recommendations refresh: its nightly job runs at once on a fresh queue
  // prefix, so each run would otherwise race a full refresh (the products run's a heavy one,
  // the catalogue being full) instead of measuring the campaign.
  const roles = WORKER_ROLES.filter((r) => r !== 'recommendations');
  const workers = await Promise.all(Array.from({ length: processes }, () => startWorkerProcess(env, roles)));
  const config = loadConfig({ ...process.env, ...env });
  const redis = createRedis(config.REDIS_URL);
  const jobs = createBullDispatcher(redis, env.QUEUE_PREFIX);
  try {
    const { campaignId, started } = await sendCampaign(
      sql,
      jobs,
      { name: `bench ${processes}`, ...input },
      100,
    );
    const [stats] = await sql<{ sent: number; first: Date; last: Date; planned: Date }[]>`
      select count(*)::int as sent, min(sent_at) as first, max(sent_at) as last,
        (select planned_at from campaigns where id = ${campaignId}) as planned
      from messages where campaign_id = ${campaignId} and status = 'sent'`;
    if (process.env.BENCH_VERBOSE) {
      const s = stats!;
      process.stderr.write(
        `first sent +${s.first.getTime() - started} ms, planned +${s.planned.getTime() - started} ms, last +${s.last.getTime() - started} ms\n`,
      );
      // Where the time goes: latency from the row's insert to `sent`, and how many tries it took.
      const [lat] = await sql<{ p50: number; p99: number; max: number; retried: number }[]>`
        select percentile_cont(0.5) within group (order by ms) as p50,
          percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max,
          count(*) filter (where attempts > 1)::int as retried
        from (select extract(epoch from sent_at - created_at) * 1000 as ms, attempts
          from messages where campaign_id = ${campaignId} and status = 'sent') t`;
      process.stderr.write(`created→sent ms ${JSON.stringify(lat)}\n`);
    }
    const seconds = (stats!.last.getTime() - started) / 1000;
    return { sent: stats!.sent, seconds, rate: stats!.sent / seconds };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))),
    );
    await jobs.close();
    redis.disconnect();
  }
}

/**
 * The same shop with a catalogue of 300 new products in its two categories and every customer's
 * feeds refreshed, and a copy of the campaign's template
 * with a `{{> products}}` block of three: the send-time lookup and rendering of recommended
 * products is all that differs between the two campaigns.
 */
async function withProductsBlock(
  sql: Sql,
  shop: ShopFixture,
): Promise<{ segmentId: number; templateId: number }> {
  const skus = Array.from({ length: 300 }, (_, i) => `BENCH-${String(i + 1).padStart(4, '0')}`);
  await sql`
    insert into products (sku, title, price, currency, category, image_url, url)
    select sku, to_jsonb('Product ' || sku), 10 + (n % 90), 'EUR', case when n % 2 = 0 then 'garden' else 'books' end,
      'https://shop.example/img/' || sku || '.jpg', 'https://shop.example/p/' || sku
    from unnest(${skus}::text[]) with ordinality as u(sku, n)`;
  // The feeds as the recommendations worker computes them (its refresh may run again while the
  // campaign goes out, to the same result): the new arrivals of each customer's categories.
  await refreshRecommendations({ sql, clock: () => new Date() });
  const [source] = await sql<{ mjml: string; subject: string }[]>`
    select mjml, subject from template_versions where template_id = ${shop.templateId}
    order by version desc limit 1`;
  const block =
    '<mj-section><mj-column><mj-text>{{> products feed="new_arrivals" count=3}}</mj-text></mj-column></mj-section>';
  const template = await sql.begin((tx) =>
    createTemplate(tx, {
      name: 'bench with products',
      subject: source!.subject,
      preheader: null,
      mjml: source!.mjml.replace('</mj-body>', `${block}</mj-body>`),
    }),
  );
  if (!template.latest_version) throw new Error('the products template was not saved');
  return { segmentId: shop.segmentId, templateId: template.id };
}

interface PreRendered {
  to: string;
  subject: string;
  html: string;
  text: string;
  unsubscribe: string;
}

/**
 * The baseline's messages: the campaign's own template rendered before the clock starts, one per
 * eligible customer with their name, two offers and signed links, so that both sides put
 * the same bytes on the wire and only the pipeline around them differs.
 */
async function preRender(sql: Sql, shop: ShopFixture, secret: string): Promise<PreRendered[]> {
  const version = await loadTemplateVersion(sql, shop.templateId);
  const offers = await sql<
    { id: number; title: string; text: string; image_url: string | null; code: string | null }[]
  >`
    select id, title, text, image_url, code from offers order by id limit 2`;
  const out: PreRendered[] = [];
  let n = 0;
  for (const [, customer] of shop.eligible) {
    const links = messageLinks('https://offers.shop.example', secret, 1_000_000 + n++);
    const rendered = renderForCustomer(version, {
      customer: { first_name: customer.first_name, email: customer.email, locale: 'en' },
      offers: offers.map((o, i) => ({ ...o, offer_id: o.id, url: links.offerUrl(i) })),
      unsubscribe_url: links.unsubscribeUrl,
      preferences_url: links.preferencesUrl,
      campaign: { name: 'bench' },
    });
    const pixel = `<img src="${links.openPixelUrl}" width="1" height="1" alt="">`;
    out.push({
      to: customer.email,
      subject: rendered.subject,
      html: rendered.html.replace('</body>', `${pixel}</body>`),
      text: rendered.text,
      unsubscribe: links.oneClickUrl,
    });
  }
  return out;
}

async function bareNodemailer(url: string, messages: PreRendered[]): Promise<number> {
  // The workers' own pooled transport (same pool size, same options): only the pipeline differs.
  const transport = createMailTransport({ ...process.env, SMTP_URL: url });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < messages.length) {
        const i = next++;
        const m = messages[i]!;
        await transport.sendMail({
          from: 'offers@shop.example',
          to: m.to,
          subject: m.subject,
          html: m.html,
          text: m.text,
          messageId: `<bare${i}@shop.example>`,
          headers: {
            'List-Unsubscribe': `<${m.unsubscribe}>`,
            'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          },
        });
      }
    }),
  );
  transport.close();
  return messages.length / ((performance.now() - started) / 1000);
}

const bench: Bench = {
  name: 'campaign-e2e',
  async run(): Promise<BenchResult[]> {
    const scale = Number(process.env.BENCH_SCALE || 1);
    const customers = Math.max(200, Math.round(10_000 * scale));
    const name = `offerflow_bench_${randomBytes(4).toString('hex')}`;
    const admin = createSql(ADMIN_URL, { max: 1 });
    await admin.unsafe(`create database "${name}"`);
    const url = urlFor(name);
    const sql = createSql(url, { max: 5 });
    const sink = await startSmtpSink({ outboxDir: null, keepInMemory: process.env.BENCH_KEEP === '1' });
    const config = loadConfig();
    try {
      await migrate(sql);
      const shop = await seedCampaignShop(sql, customers, config.OFFERFLOW_SECRET);
      const baseline = await bareNodemailer(sink.url, await preRender(sql, shop, config.OFFERFLOW_SECRET));
      const env = (tag: string) => ({
        DATABASE_URL: url,
        SMTP_URL: sink.url,
        QUEUE_PREFIX: `bench_${tag}_${randomBytes(3).toString('hex')}`,
        RECONCILE_INTERVAL_MS: '1000',
        ...(process.env.BENCH_IDLE ? { RECONCILE_IDLE_SECONDS: process.env.BENCH_IDLE } : {}),
      });
      // BENCH_POLICY=on: every send goes through the whole contact policy (caps, a quiet window
      // that is not now, the complaint suspension): the locked decision and the count per send.
      const policy = process.env.BENCH_POLICY === 'on';
      if (policy) {
        const hour = (new Date().getUTCHours() + 6) % 24;
        await sql`
          update contact_policy_settings set daily_cap = 5, weekly_cap = 20, complaint_suspension_days = 30,
            quiet_start_minute = ${hour * 60}, quiet_end_minute = ${((hour + 2) % 24) * 60}`;
      }
      const one = await runCampaign(sql, env('one'), 1, shop);
      const two = await runCampaign(sql, env('two'), 2, shop);
      // The same campaign with a products block, right after the plain one at the same load.
      const productsShop = await withProductsBlock(sql, shop);
      const products = await runCampaign(sql, env('products'), 1, productsShop);
      // The block really showed three products in every mail (not an empty feed sent fast).
      const [shown] = await sql<{ n: number }[]>`
        select count(*)::int as n from messages m join campaigns c on c.id = m.campaign_id
        where c.template_id = ${productsShop.templateId} and m.status = 'sent'
          and jsonb_array_length(m.recommended) = 3`;
      if (shown!.n !== products.sent)
        throw new Error(`${shown!.n} of ${products.sent} mails showed 3 products`);
      return [
        {
          name: `campaign-e2e (1 worker process${policy ? ', contact policy on' : ''})`,
          value: one.rate,
          unit: 'messages/s',
          baseline: 'bare nodemailer pooled, the same emails pre-rendered',
          baseline_value: baseline,
          ratio: one.rate / baseline,
          target: 0.8,
          notes: { customers, sent: one.sent, seconds: Math.round(one.seconds * 10) / 10 },
        },
        {
          name: `campaign-e2e (2 worker processes${policy ? ', contact policy on' : ''})`,
          value: two.rate,
          unit: 'messages/s',
          baseline: 'bare nodemailer pooled, the same emails pre-rendered',
          baseline_value: baseline,
          ratio: two.rate / baseline,
          notes: { customers, sent: two.sent, seconds: Math.round(two.seconds * 10) / 10 },
        },
        {
          name: `campaign-e2e (1 worker process, {{> products}} block${policy ? ', contact policy on' : ''})`,
          value: products.rate,
          unit: 'messages/s',
          baseline: 'bare nodemailer pooled, the same emails pre-rendered',
          baseline_value: baseline,
          ratio: products.rate / baseline,
          notes: { customers, sent: products.sent, seconds: Math.round(products.seconds * 10) / 10 },
        },
        {
          name: 'campaign-e2e: with a {{> products}} block against without',
          value: products.rate,
          unit: 'messages/s',
          baseline: 'the same campaign without the block (1 worker process)',
          baseline_value: one.rate,
          ratio: products.rate / one.rate,
          target: 0.9,
          notes: { customers, sent: products.sent },
        },
      ];
    } finally {
      await sink.close();
      await sql.end({ timeout: 5 });
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    }
  },
};

export default bench;
