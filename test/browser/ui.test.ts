// biome-ignore-all lint/suspicious/noExplicitAny: page.evaluate bodies run in the browser, whose DOM types this project does not load
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// The web UI in Debian's Chromium against the real app, PostgreSQL, Redis, BullMQ workers and an
// SMTP sink. Screenshots of each page go to test/artifacts/ for review (not committed).

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test/artifacts');
const CUSTOMERS = 40;

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers;
let server: ReturnType<typeof serve>;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

const shot = (p: Page, name: string) =>
  p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  ensureChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, CUSTOMERS, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['planner', 'sender', 'reconciler'],
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      RECONCILE_INTERVAL_MS: '500',
      RECONCILE_IDLE_SECONDS: '3',
      SEND_CONCURRENCY: '10',
    },
    logger: h.deps.logger,
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'offerflow-chromium-'));
  // A persistent context is the only way to give Chromium a fresh user-data-dir of our own.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  browser = context.browser() as Browser;
  page = context.pages()[0] ?? (await context.newPage());
}, 240_000);

afterAll(async () => {
  await context?.close();
  await browser?.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((r) => server?.close(r));
  await workers?.close();
  await sink?.close();
  await h?.close();
});

describe('the web UI in Chromium', () => {
  it('signs in with an API key', async () => {
    await page.goto(`${base}/ui`);
    expect(page.url()).toContain('/ui/login');
    await shot(page, '01-login');
    await page.click('.key-sign-in summary');
    await page.fill('#f-key', 'of_wrong_key');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('.field.invalid');
    await page.fill('#f-key', await h.keyFor('admin'));
    await page.click('#key-form button[type=submit]');
    await page.waitForURL(`${base}/ui`);
    expect(await page.textContent('h1')).toBe('Dashboard');
  });

  it('refuses a bad segment at its field, then saves one and shows its count', async () => {
    await page.goto(`${base}/ui/segments/new`);
    await page.fill('#f-name', '');
    await page.fill('#f-rule', '{"no_such_operator": [1]}');
    await page.click('#segment-form button[type=submit]');
    await page.waitForSelector('#f-name[aria-invalid="true"]');
    await page.fill('#f-name', 'Buyers (UI)');
    await page.click('#segment-form button[type=submit]');
    await page.waitForSelector('#f-rule[aria-invalid="true"]');
    expect(await page.textContent('.field.invalid .error')).toContain('no_such_operator');
    await shot(page, '02-segment-invalid');
    expect(await h.db.sql`select count(*)::int as n from segments`).toEqual([{ n: 1 }]);

    await page.fill('#f-name', 'Buyers (UI)');
    await page.fill('#f-rule', JSON.stringify({ '>': [{ var: 'orders_count' }, 0] }));
    await page.click('text=Count customers');
    await page.waitForSelector('#count [data-count]');
    expect(await page.getAttribute('#count [data-count]', 'data-count')).toBe(String(CUSTOMERS));
    await page.click('text=Test the rule');
    await page.fill('#f-test_data', '{"orders_count": 3}');
    await page.click('.tester button');
    await page.waitForSelector('#test-result [data-result]');
    expect(await page.textContent('#test-result [data-result]')).toBe('true');
    await page.click('#segment-form button[type=submit]');
    await page.waitForSelector('#segment-count');
    expect(await page.textContent('#segment-count')).toContain(`${CUSTOMERS} customers now`);
    await shot(page, '03-segment');
  });

  it('creates a campaign, launches it after seeing the audience, watches it send and reads its report', async () => {
    await page.goto(`${base}/ui/campaigns/new`);
    await page.fill('#f-name', 'Spring in the garden');
    await page.selectOption('#f-segment_id', { label: 'Buyers (UI)' });
    await page.selectOption('#f-template_id', String(shop.templateId));
    await page.fill('#f-variants-1-weight', '-5');
    await page.click('#campaign-form button[type=submit]');
    await page.waitForSelector('#f-variants-1-weight[aria-invalid="true"]');
    expect(await h.db.sql`select count(*)::int as n from campaigns`).toEqual([{ n: 0 }]);
    await page.fill('#f-variants-1-weight', '50');
    await page.fill('#f-from_address', 'offers@shop.example');
    await shot(page, '04-campaign-form');
    await page.click('#campaign-form button[type=submit]');
    await page.waitForSelector('text=Launch…');
    await page.click('text=Launch…');
    await page.waitForSelector('#audience-count');
    expect(await page.textContent('#audience-count')).toBe(String(CUSTOMERS));
    await shot(page, '05-launch-confirm');
    await page.click('button.danger');
    await page.waitForSelector('#progress[data-status="sent"]', { timeout: 120_000 });
    expect(sink.accepted).toBe(shop.eligible.size);
    // The bar ends full although part of the audience was suppressed, not sent.
    expect(shop.suppressed.size).toBeGreaterThan(0);
    const bar = await page.$eval('#progress progress', (el) => [
      el.getAttribute('value'),
      el.getAttribute('max'),
    ]);
    expect(bar[0]).toBe(bar[1]);
    await page.reload();
    await page.waitForSelector('#report canvas#timeseries[data-drawn]');
    expect(await page.textContent('#report .funnel')).toContain(String(shop.eligible.size));
    await shot(page, '06-campaign-report');
    await page.goto(`${base}/ui`);
    await page.waitForSelector('canvas#conversions[data-drawn]');
    expect(await page.textContent('#recent-campaigns')).toContain('Spring in the garden');
    await shot(page, '07-dashboard');
  });

  it('sets the offer ranker and best send time in the campaign form, refusing a bad exploration at its field', async () => {
    const stored = () =>
      h.db.sql<
        {
          ranker: string;
          ranker_objective: string;
          ranker_cells: boolean;
          ranker_exploration: number;
          send_at_best_hour: boolean;
        }[]
      >`select ranker, ranker_objective, ranker_cells, ranker_exploration, send_at_best_hour
        from campaigns where name = 'Learning draft'`;
    await page.goto(`${base}/ui/campaigns/new`);
    await page.fill('#f-name', 'Learning draft');
    await page.selectOption('#f-segment_id', { label: 'Buyers (UI)' });
    await page.selectOption('#f-template_id', String(shop.templateId));
    // The defaults a marketer sees: by priority, 5 % exploration, sent at once.
    expect(await page.inputValue('#f-ranker-mode')).toBe('priority');
    expect(await page.inputValue('#f-ranker-exploration')).toBe('5');
    expect(await page.isChecked('input[name="send_at_best_hour"]')).toBe(false);
    await page.selectOption('#f-ranker-mode', 'learning');
    await page.selectOption('#f-ranker-objective', 'revenue');
    await page.check('input[name="ranker.segment_cells"]');
    await page.check('input[name="send_at_best_hour"]');
    // Over 100 %: the API refuses it, and the error stands beside the field, in percent.
    await page.fill('#f-ranker-exploration', '150');
    await page.click('#campaign-form button[type=submit]');
    await page.waitForSelector('#f-ranker-exploration[aria-invalid="true"]');
    expect(await page.textContent('#f-ranker-exploration-err')).toContain('percent, from 0 to 100');
    expect(await stored()).toEqual([]);
    // What was typed stays in the form.
    expect(await page.inputValue('#f-ranker-mode')).toBe('learning');
    expect(await page.isChecked('input[name="send_at_best_hour"]')).toBe(true);
    await shot(page, '04b-campaign-ranker-invalid');
    await page.fill('#f-ranker-exploration', '12.5');
    await page.click('#campaign-form button[type=submit]');
    await page.waitForSelector('text=Launch…');
    expect(await stored()).toEqual([
      {
        ranker: 'learning',
        ranker_objective: 'revenue',
        ranker_cells: true,
        ranker_exploration: 0.125,
        send_at_best_hour: true,
      },
    ]);
    expect(await page.textContent('main')).toContain(
      'learning (revenue, per segment cell, 12.5 % exploration)',
    );

    // The edit form shows what is stored, and sets it back.
    const [{ id }] = (await h.db.sql`select id from campaigns where name = 'Learning draft'`) as unknown as [
      { id: number },
    ];
    await page.goto(`${base}/ui/campaigns/${id}/edit`);
    expect(await page.inputValue('#f-ranker-mode')).toBe('learning');
    expect(await page.inputValue('#f-ranker-objective')).toBe('revenue');
    expect(await page.inputValue('#f-ranker-exploration')).toBe('12.5');
    expect(await page.isChecked('input[name="ranker.segment_cells"]')).toBe(true);
    expect(await page.isChecked('input[name="send_at_best_hour"]')).toBe(true);
    await page.selectOption('#f-ranker-mode', 'priority');
    await page.uncheck('input[name="send_at_best_hour"]');
    await page.click('#campaign-form button[type=submit]');
    await page.waitForSelector('text=Launch…');
    expect((await stored())[0]).toMatchObject({ ranker: 'priority', send_at_best_hour: false });
  });

  it('opens a customer card on a phone, adds a note, and keeps a note typed offline until it can be sent', async () => {
    const id = [...shop.eligible.keys()][0]!;
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/ui/customers/${id}`);
    await phone.waitForSelector('#note-form');
    // Runs in the page: the DOM types are not in this project's lib.
    const widths = await phone.evaluate(() => {
      const doc = (globalThis as any).document;
      return {
        page: doc.documentElement.scrollWidth as number,
        button: doc.querySelector('#note-form button[type=submit]').getBoundingClientRect() as {
          height: number;
        },
      };
    });
    expect(widths.page).toBeLessThanOrEqual(390);
    expect(widths.button.height).toBeGreaterThanOrEqual(44);
    await phone.fill('#f-text', 'Called about the garden sale; call back Monday.');
    await phone.click('#note-form button[type=submit]');
    await phone.waitForSelector('#timeline >> text=Called about the garden sale');

    // The service worker is up once the page is controlled; then go offline.
    await phone.evaluate(() => (globalThis as any).navigator.serviceWorker.ready);
    await context.setOffline(true);
    await phone.fill('#f-text', 'Typed in the car park, no signal.');
    await phone.click('#note-form button[type=submit]');
    await phone.waitForSelector('#pending-notes li');
    await shot(phone, '08-customer-card-offline');
    expect(
      await h.db.sql`select count(*)::int as n from contact_events where text like 'Typed in the car park%'`,
    ).toEqual([{ n: 0 }]);
    await context.setOffline(false);
    await phone.waitForSelector('#timeline >> text=Typed in the car park', { timeout: 20_000 });
    // Both open tabs saw the connection return; the note was still sent once.
    await page.waitForTimeout(500);
    expect(
      await h.db.sql`select count(*)::int as n from contact_events where text like 'Typed in the car park%'`,
    ).toEqual([{ n: 1 }]);
    await shot(phone, '09-customer-card-phone');
    await phone.close();
  });

  it('previews an edited template and shows its MJML error at the right line', async () => {
    const customer = [...shop.eligible.keys()][1]!;
    await page.goto(`${base}/ui/templates/${shop.templateId}`);
    await page.fill('#f-preview_customer_id', String(customer));
    await page.click('text=Refresh preview');
    await page.waitForSelector('#preview iframe.desktop');
    await page.waitForSelector('#preview iframe.phone');
    const frame = page.frameLocator('#preview iframe.desktop');
    await expect
      .poll(async () => (await frame.locator('body').textContent()) ?? '')
      .toContain(shop.eligible.get(customer)!.first_name);
    await shot(page, '10-template-preview');
    const broken = [
      '<mjml>',
      '  <mj-body>',
      '    <mj-section>',
      '      <mj-column>',
      '        <mj-text>{{greeting}}</mj-text>',
      '        <mj-bogus>no such tag</mj-bogus>',
      '      </mj-column>',
      '    </mj-section>',
      '  </mj-body>',
      '</mjml>',
    ].join('\n');
    await page.fill('#f-mjml', broken);
    await page.waitForSelector('#mjml-errors li[data-line="6"]');
    expect(await page.textContent('#mjml-errors')).toContain('mj-bogus');
    await shot(page, '11-template-error');
  });

  it('shows how a chosen CSV will read before it is uploaded, and a header that does not map', async () => {
    await page.goto(`${base}/ui/imports`);
    await page.selectOption('#f-kind', 'purchases');
    await page.setInputFiles('#f-file', {
      name: 'erp.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        'Ligne;Code client;Montant TTC;Date commande;Remarque\nL-1;c1;12,50;25/12/2023;rien\n',
      ),
    });
    await page.waitForSelector('#import-preview [data-preview="ok"]');
    const preview = (await page.textContent('#import-preview')) ?? '';
    expect(preview).toContain('semicolon-separated');
    expect(preview).toContain('customer_external_id');
    expect(preview).toContain('12,50');
    expect(preview).toContain('ignored');
    await shot(page, '12-import-preview');
    await page.fill('#f-mapping', '{"shoe_size": "Remarque"}');
    await page.dispatchEvent('#f-mapping', 'change');
    await page.waitForSelector('#import-preview [data-preview="refused"]');
    expect(await page.textContent('#import-preview')).toContain('mapping.shoe_size');
  });

  it('creates a win-back trigger on a phone: only its event’s fields, its refusal at the field, then off', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${base}/ui/triggers/new`);
      // A purchase needs no parameter: the others are hidden until their event is chosen.
      expect(await page.isVisible('#f-params-days')).toBe(false);
      expect(await page.isVisible('#f-params-attribute')).toBe(false);
      await page.selectOption('#f-event', 'inactive_for');
      expect(await page.isVisible('#f-params-days')).toBe(true);
      expect(await page.isVisible('#f-params-attribute')).toBe(false);
      await page.fill('#f-name', 'Win-back (browser)');
      await page.selectOption('#f-template_id', { index: 1 });
      await page.check('input[name=cancel_on_purchase]');
      await page.click('#trigger-form button[type=submit]');
      // No days: the API's refusal, at the field, still visible after the round trip.
      await page.waitForSelector('#f-params-days-err');
      expect(await page.textContent('#f-params-days-err')).toContain('inactive_for needs days');
      expect(await page.isVisible('#f-params-days')).toBe(true);
      await shot(page, '13-trigger-refused');
      await page.fill('#f-params-days', '45');
      await page.click('#trigger-form button[type=submit]');
      await page.waitForSelector('#trigger-settings');
      expect(await page.textContent('#trigger-settings')).toContain('No purchase for some days: 45 days');
      await shot(page, '14-trigger');
      await page.click('button:has-text("Switch off")');
      await page.waitForSelector('button:has-text("Switch on")');
      expect(await page.textContent('#trigger-settings')).toContain('off');
      // Tried on a customer, in place: a switched-off trigger sends nothing, and says so.
      const [someone] = await h.db.sql<{ id: number }[]>`select id from customers order by id limit 1`;
      await page.click('#try summary');
      await page.fill('#f-preview_customer_id', String(someone!.id));
      await page.click('#try button:has-text("Try")');
      await page.waitForSelector('#trigger-preview [data-fires="false"]');
      expect(await page.textContent('#trigger-preview')).toContain('Would not send: disabled');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});
