// biome-ignore-all lint/suspicious/noExplicitAny: page.evaluate bodies run in the browser, whose DOM types this project does not load
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { simpleParser } from 'mailparser';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInWithKey } from './pages.js';

// The rule builder and the block email editor in Debian's Chromium, against the real app,
// PostgreSQL, Redis, BullMQ workers and an SMTP sink.

const CHROMIUM = '/usr/bin/chromium';
const CUSTOMERS = 12;
const RULE = { and: [{ purchased_in: ['garden', 90] }, { '>': [{ var: 'total_spent' }, 100] }] };

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers;
let server: ReturnType<typeof serve>;
let base: string;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
const offsite: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, CUSTOMERS, h.deps.config.OFFERFLOW_SECRET);
  // A big garden order long ago: total spent over 100, but not "garden in the last 90 days".
  await h.db.sql`
    insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
    select 'old-garden', id, 'garden', 500, now() - interval '200 days' from customers where external_id = 'c1'`;
  const attribute = { key: 'condition', type: 'string', sensitive: true, category: 'health' };
  expect((await h.post('/v1/attributes', attribute)).status).toBe(201);
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['planner', 'sender', 'reconciler'],
    env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '500', RECONCILE_IDLE_SECONDS: '3' },
    logger: h.deps.logger,
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'offerflow-builders-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1400, height: 1000 },
  });
  // The pages' code comes from the app alone (no CDN): any script, style or font asked of
  // another host is noted and refused. (Email content, such as offer images, may point anywhere.)
  await context.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => {
    const type = route.request().resourceType();
    // MJML's HTML links its default web font (Ubuntu) for the recipient's mail client: that is
    // the email's content (rendered in the previews and the canvas), not the editor's code.
    const emailFont = /^https:\/\/fonts\.(googleapis|gstatic)\.com\//.test(route.request().url());
    if ((type === 'script' || type === 'stylesheet' || type === 'font') && !emailFont)
      offsite.push(route.request().url());
    return route.abort();
  });
  page = context.pages()[0] ?? (await context.newPage());
  await signInWithKey(page, base, await h.keyFor('marketer'));
  await page.waitForURL(`${base}/ui`);
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((r) => server?.close(r));
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const condition = (n: number) => page.locator('.rb-cond').nth(n);

describe('the rule builder', () => {
  it('builds "bought garden in the last 90 days and spent over 100 in total" and counts what the JSON rule counts', async () => {
    const expected = (await json(await h.post('/v1/segments/preview', { rule: RULE }))).count;
    expect(expected).toBeGreaterThan(0);

    await page.goto(`${base}/ui/segments/new`);
    await page.waitForSelector('.rule-builder .rb-group');
    // The example condition goes; the rule is then built from the builder alone.
    await page.click('.rb-cond [aria-label="Remove condition"]');
    await page.click('.rb-group > .rb-actions >> text=Add condition');
    await condition(0).locator('select[aria-label="Field"]').selectOption('o:purchased_in');
    await condition(0).locator('input[aria-label="Category"]').fill('garden');
    await condition(0).locator('input[aria-label="Days"]').fill('90');
    await page.click('.rb-group > .rb-actions >> text=Add condition');
    await condition(1).locator('select[aria-label="Field"]').selectOption('f:total_spent');
    await condition(1).locator('select[aria-label="Operator"]').selectOption('>');
    await condition(1).locator('input[aria-label="Value"]').fill('100');

    await page.waitForSelector(`[data-builder-count] [data-count="${expected}"]`);
    expect(JSON.parse(await page.inputValue('#f-rule'))).toEqual(RULE);
    // Each sampled customer says why they match.
    expect(await page.locator('[data-builder-sample] li').count()).toBe(Math.min(expected, 10));
    expect(await page.textContent('[data-builder-sample] li')).toMatch(/bought garden on .*total_spent is/);

    await page.fill('#f-name', 'Garden spenders');
    await page.click('#segment-form button[type=submit]');
    await page.waitForSelector('#segment-count');
    const [saved] = await h.db.sql<
      { rule: unknown }[]
    >`select rule from segments where name = 'Garden spenders'`;
    expect(saved?.rule).toEqual(RULE);
    expect(await page.textContent('#segment-count')).toContain(`${expected} customers now`);
    // The saved rule opens in the builder again (the JSON round-trips).
    await page.waitForSelector('.rb-cond >> nth=1');
    expect(await condition(0).locator('input[aria-label="Category"]').inputValue()).toBe('garden');
    expect(await condition(1).locator('input[aria-label="Value"]').inputValue()).toBe('100');
  });

  it('shows a warning for a typo in a field', async () => {
    await page.goto(`${base}/ui/segments/new`);
    await page.waitForSelector('.rule-builder .rb-group');
    await page.fill('#f-rule', JSON.stringify({ and: [{ '>': [{ var: 'totl_spent' }, 100] }] }));
    const warning = page.locator('[data-builder-warnings] li.warning');
    await warning.waitFor();
    expect(await warning.textContent()).toContain('unknown field totl_spent; did you mean total_spent?');
    expect(await condition(0).locator('select[aria-label="Field"] option:checked').textContent()).toBe(
      'totl_spent (unknown field)',
    );
  });
});

describe('the rule builder and special categories', () => {
  it('adds the consent a sensitive attribute needs, and the segment saves', async () => {
    await page.goto(`${base}/ui/segments/new`);
    await page.waitForSelector('.rule-builder .rb-group');
    await page.click('.rb-cond [aria-label="Remove condition"]');
    await page.click('.rb-group > .rb-actions >> text=Add condition');
    await condition(0).locator('select[aria-label="Field"]').selectOption('f:attributes.condition');
    await condition(0).locator('input[aria-label="Value"]').fill('asthma');
    expect(JSON.parse(await page.inputValue('#f-rule'))).toEqual({
      and: [
        { in: ['sensitive:health', { var: 'consents' }] },
        { '==': [{ var: 'attributes.condition' }, 'asthma'] },
      ],
    });
    await page.fill('#f-name', 'Asthma (consented)');
    await page.click('#segment-form button[type=submit]');
    await page.waitForSelector('#segment-count');
  });
});

describe('the block email editor', () => {
  it('builds a template from blocks, saves it, and a campaign sends it', async () => {
    const header =
      '<mj-section><mj-column><mj-text>Garden &amp; Co header</mj-text></mj-column></mj-section>';
    const footer =
      '<mj-section><mj-column><mj-text>Garden &amp; Co footer</mj-text></mj-column></mj-section>';
    expect((await h.post('/v1/partials', { name: 'header', mjml: header })).status).toBe(201);
    expect((await h.post('/v1/partials', { name: 'footer', mjml: footer })).status).toBe(201);

    await page.goto(`${base}/ui/templates/new`);
    await page.waitForSelector('[data-email-editor][data-ready]');
    // An empty email, then the blocks one by one.
    await page.fill('#f-mjml', '<mjml><mj-body></mj-body></mjml>');
    await page.locator('#f-mjml').blur();
    for (const block of ['.gjs-block[data-block="partial-header"]', '.gjs-block[title="Text"]']) {
      await page.click(block);
    }
    await page.click('.gjs-block[data-block="offers"]');
    await page.click('.gjs-block[title="Button"]');
    await page.click('.gjs-block[data-block="partial-footer"]');
    // Text is edited in place, on the canvas, as a marketer would.
    const canvas = page.frameLocator('.gjs-frame');
    await canvas.getByText('Insert text here').dblclick();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Spring is here, {{customer.first_name}}');
    await page.click('#f-name');
    await page.waitForFunction(() => {
      const root = (globalThis as any).document.querySelector('[data-email-editor]');
      return root.editor.runCommand('mjml-code').includes('Spring is here');
    });
    await page.fill('#f-name', 'Built from blocks');
    await page.fill('#f-subject', '{{customer.first_name}}, picked for you');
    await page.click('[data-device="phone"]');
    // The code view round-trips: an edit there comes back into the editor.
    const code = await page.inputValue('#f-mjml');
    await page.fill('#f-mjml', code.replace('>Button<', '>Shop now<'));
    await page.locator('#f-mjml').blur();
    await page.waitForFunction(() => {
      // Runs in the page: the DOM types are not in this project's lib.
      const root = (globalThis as any).document.querySelector('[data-email-editor]');
      return root.editor.runCommand('mjml-code').includes('>Shop now<');
    });
    await page.click('#template-form button[type=submit]');
    await page.waitForURL(/\/ui\/templates\/\d+\?saved=1/);

    const [template] = await h.db.sql<{ id: number; mjml: string }[]>`
      select t.id, v.mjml from templates t join template_versions v on v.template_id = t.id
      where t.name = 'Built from blocks'`;
    const mjml = template?.mjml ?? '';
    const order = ['partial:header:1', '<mj-text', '{{> offers}}', '<mj-button', 'partial:footer:1'].map(
      (s) => mjml.indexOf(s),
    );
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    // The header block lists the template that uses it, at the version it was saved with.
    const [headerRow] = await h.db.sql<{ id: number }[]>`select id from partials where name = 'header'`;
    await page.goto(`${base}/ui/partials/${headerRow?.id}`);
    expect(await page.textContent('#used-by')).toMatch(/Built from blocks.*v1.*v1 \(latest\)/s);

    const draft = await h.post('/v1/campaigns', {
      name: 'Blocks',
      segment_id: shop.segmentId,
      template_id: template?.id,
      offers_per_email: 1,
      from: { address: 'offers@shop.example', name: 'Shop' },
    });
    expect(draft.status).toBe(201);
    const { id } = await json(draft);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    const deadline = Date.now() + 60_000;
    while (sink.messages.length < shop.eligible.size && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(sink.messages.length).toBe(shop.eligible.size);
    const mail = await simpleParser(sink.messages[0] as Buffer);
    expect(mail.subject).toMatch(/^Name\d+, picked for you$/);
    const html = String(mail.html);
    expect(html).toContain('Garden &amp; Co header');
    expect(html).toContain('Garden &amp; Co footer');
    expect(html).toMatch(/Garden -20%|Books 3 for 2|Free delivery/);
    expect(mail.text).toContain('Garden & Co footer');
    expect(mail.text).toMatch(/Spring is here, Name\d+/);
    expect(html).toContain('Shop now');
    expect(offsite).toEqual([]);
  });
});

describe('the shipped templates in the block editor', () => {
  it('come out of the editor as MJML the strict validator accepts', async () => {
    const rows = await h.db.sql<{ id: number; name: string; mjml: string }[]>`
      select t.id, t.name, v.mjml from templates t
      join template_versions v on v.template_id = t.id and v.version = t.latest_version
      where t.name <> 'Built from blocks' order by t.id`;
    const expressions = (mjml: string) => mjml.match(/\{\{\{?[\s\S]*?\}\}\}?/g) ?? [];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      await page.goto(`${base}/ui/templates/${row.id}`);
      await page.waitForSelector('[data-email-editor][data-ready]');
      const mjml = await page.evaluate(() => {
        const w = globalThis as any;
        const root = w.document.querySelector('[data-email-editor]');
        return w.OfferflowEmailEditor.restoreExpressions(root.editor.runCommand('mjml-code')) as string;
      });
      // Every Handlebars expression is still there, in order.
      expect(expressions(mjml)).toEqual(expressions(row.mjml));
      const res = await h.post('/v1/templates', { name: `${row.name} (edited)`, subject: 'x', mjml });
      expect({
        name: row.name,
        status: res.status,
        body: res.status === 201 ? null : await json(res),
      }).toEqual({
        name: row.name,
        status: 201,
        body: null,
      });
    }
  });
});
