// biome-ignore-all lint/suspicious/noExplicitAny: page.evaluate bodies run in the browser, whose DOM types this project does not load
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Personal data does not stay in the browser: in Chromium, the UI's service worker keeps only
// the app shell and assets, never a customer card or search results; sign-out clears the caches
// and the offline note queue; offline, a card says it is not available offline. The pages run
// under the Content-Security-Policy with htmx and Chart.js working and no violation reported.

const CHROMIUM = '/usr/bin/chromium';
const NAME = 'Wilhelmina Strathcarron';
const SHELL = /^\/ui\/(static\/|vendor\/|manifest\.webmanifest$|offline$)/;

let h: Harness;
let server: ReturnType<typeof serve>;
let base: string;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let customerId: number;
const violations: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  h = await createHarness();
  customerId = (
    await json(
      await h.post('/v1/customers', {
        external_id: 'sw-1',
        email: 'w.strathcarron@example.test',
        first_name: 'Wilhelmina',
        last_name: 'Strathcarron',
      }),
    )
  ).id;
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'offerflow-sw-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  // Every CSP violation any page reports, from the page itself and from the console.
  await context.addInitScript(() => {
    (globalThis as any).addEventListener('securitypolicyviolation', (e: any) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  page.on('console', (msg) => {
    if (/Content.Security.Policy|CSP violation/i.test(msg.text())) violations.push(msg.text());
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((r) => server?.close(r));
  await h?.close();
});

/** Every URL path in every Cache Storage cache of the origin. */
const cachedPaths = (p: Page) =>
  p.evaluate(async () => {
    const c = (globalThis as any).caches;
    const out: string[] = [];
    for (const name of await c.keys()) {
      for (const req of await (await c.open(name)).keys()) out.push(new URL(req.url).pathname);
    }
    return out;
  });

describe('the UI in Chromium keeps no personal data on the device', () => {
  it('signs in and works under the CSP: htmx and Chart.js load, nothing is blocked', async () => {
    await page.goto(`${base}/ui/login`);
    await page.click('.key-sign-in summary');
    await page.fill('#f-key', await h.keyFor('admin'));
    await page.click('#key-form button[type=submit]');
    await page.waitForURL(`${base}/ui`);
    await page.waitForSelector('canvas[data-chart][data-drawn="1"]');
    expect(await page.evaluate(() => typeof (globalThis as any).htmx)).toBe('object');
    expect(await page.evaluate(() => typeof (globalThis as any).Chart)).toBe('function');
    expect(violations).toEqual([]);
  });

  it('caches only the shell and assets: never a customer card or search results', async () => {
    await page.goto(`${base}/ui/customers/${customerId}`);
    await page.waitForSelector('#note-form');
    await page.evaluate(() => (globalThis as any).navigator.serviceWorker.ready);
    // Controlled from now on: what the pages load goes through the worker.
    await page.reload();
    await page.waitForSelector('#note-form');
    expect(await page.evaluate(() => Boolean((globalThis as any).navigator.serviceWorker.controller))).toBe(
      true,
    );
    await page.goto(`${base}/ui/customers?q=Strathcarron`);
    await page.waitForSelector(`text=${NAME}`);
    await page.goto(`${base}/ui/customers/${customerId}`);
    await page.waitForSelector('#note-form');
    const paths = await cachedPaths(page);
    expect(paths).toContain('/ui/static/app.js');
    expect(paths.filter((p) => !SHELL.test(p))).toEqual([]);
    expect(violations).toEqual([]);
  });

  it('offline, a card that is not cached says it is not available offline', async () => {
    await context.setOffline(true);
    try {
      await page.goto(`${base}/ui/customers/${customerId}`);
      await page.waitForSelector('#offline-page');
      const text = (await page.textContent('body')) ?? '';
      expect(text).toContain('not available offline');
      expect(text).not.toContain('Strathcarron');
      await page.goto(`${base}/ui/customers?q=Strathcarron`);
      await page.waitForSelector('#offline-page');
      expect((await page.textContent('body')) ?? '').not.toContain('w.strathcarron');
    } finally {
      await context.setOffline(false);
    }
  });

  it('sign-out clears the caches and the offline note queue (and says so with Clear-Site-Data)', async () => {
    await page.goto(`${base}/ui/customers/${customerId}`);
    await page.waitForSelector('#note-form');
    // A note typed offline and not yet sent: it names the customer.
    await page.evaluate((id) => {
      (globalThis as any).localStorage.setItem(
        'offerflow:pending-notes',
        JSON.stringify([{ action: `/ui/customers/${id}/notes`, fields: { text: 'Strathcarron called' } }]),
      );
    }, customerId);
    expect((await cachedPaths(page)).length).toBeGreaterThan(0);
    const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/ui/logout');
    await page.click('form.signout button[type=submit]');
    expect((await (await logout).allHeaders())['clear-site-data']).toContain('"storage"');
    await page.waitForURL(/\/ui\/login/);
    expect(
      await page.evaluate(() => (globalThis as any).localStorage.getItem('offerflow:pending-notes')),
    ).toBeNull();
    expect(await cachedPaths(page)).toEqual([]);
    // Signed out, the card is not there to read, online or from any cache.
    await page.goto(`${base}/ui/customers/${customerId}`);
    expect(page.url()).toContain('/ui/login');
    expect(violations).toEqual([]);
  });
});
