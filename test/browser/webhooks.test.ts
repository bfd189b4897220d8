import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { loadConfig } from '../../src/config.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';
import { signInWithKey } from './pages.js';

// A webhook endpoint created through the UI in Debian's Chromium, a delivery made by the real
// webhook worker to a loopback receiver, and the delivery seen on the endpoint's page.

let h: Harness;
let workers: RunningWorkers;
let server: ReturnType<typeof serve>;
let receiver: Server;
let receiverUrl: string;
let base: string;
let browser: Browser;
let page: Page;
const received: string[] = [];

beforeAll(async () => {
  const config = {
    ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
    WEBHOOK_ALLOW_PRIVATE: true,
  };
  h = await createHarness({ config });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  workers = await startWorkers({
    config: { ...config, DATABASE_URL: h.db.url },
    roles: ['webhook'],
    env: { QUEUE_PREFIX: h.queuePrefix, WEBHOOK_POLL_MS: '100' },
    logger: h.deps.logger,
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  page = await (await browser.newContext({ viewport: { width: 360, height: 800 } })).newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await new Promise((r) => receiver?.close(r));
  await workers?.close();
  await h?.close();
});

describe('webhooks in the UI', () => {
  it('creates an endpoint from the form, shows its secret once, and shows its delivery', async () => {
    await signInWithKey(page, base, await h.keyFor('admin'));
    await page.goto(`${base}/ui/webhooks`);
    await page.fill('#f-url', receiverUrl);
    await page.check('input[name="event_message_opened"]');
    await page.click('#webhook-form button[type=submit]');
    const secret = (await page.textContent('#webhook-secret'))?.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.click('#webhook-created a');
    const [c] = await h.db.sql`insert into customers (external_id) values ('hook-ui') returning id`;
    await h.db.sql`insert into contact_events (customer_id, kind, at) values (${c!.id}, 'opened', now())`;
    await until(async () => received.some((b) => b.includes('message.opened')));
    expect(received.some((b) => b.includes('message.opened'))).toBe(true);
    await page.reload();
    await page.waitForSelector('tr.delivery-succeeded');
    expect(await page.textContent('tr.delivery-succeeded')).toContain('message.opened');
    // No horizontal scroll on a phone.
    const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(360);
  });
});
