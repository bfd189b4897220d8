import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInWithKey } from './pages.js';

// A marketer builds a small journey on screen in Debian's Chromium, on a phone-sized page, with
// no JSON: wait → send_email → exit, a refused step shown beside its field, then activates it.

let h: Harness;
let server: ReturnType<typeof serve>;
let base: string;
let browser: Browser;
let page: Page;
let templateId: number;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
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
  await h?.close();
});

const scrollWidth = () => page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);

describe('journeys in the UI', () => {
  it('a marketer builds wait → send_email → exit from forms and activates it', async () => {
    await signInWithKey(page, base, await h.keyFor('marketer'));
    await page.goto(`${base}/ui/journeys`);
    await page.click('a.button[href="/ui/journeys/new"]');
    await page.fill('#f-name', 'Welcome series');
    await page.selectOption('#f-entry_kind', 'event');
    await page.fill('#f-entry-event', 'signed_up');
    await page.click('#journey-form button[type=submit]');
    await page.waitForSelector('svg.journey-graph');
    const id = Number(/\/ui\/journeys\/(\d+)/.exec(page.url())![1]);

    // The email first, placed at the start (before the exit every journey starts with).
    await page.click('#add-step a[href$="type=send_email"]');
    await page.fill('#f-id', 'welcome');
    await page.selectOption('#f-place', 'start');
    await page.selectOption('#f-template_id', String(templateId));
    await page.fill('#f-subject', 'Welcome, {{customer.first_name}}');
    await page.selectOption('#f-next', 'end');
    await page.click('#step-form button[type=submit]');
    await page.waitForSelector('[data-step="welcome"]');

    // A wait with no duration is refused, the reason beside the field; then fixed.
    await page.click('#add-step a[href$="type=wait"]');
    await page.fill('#f-id', 'settle');
    await page.selectOption('#f-place', 'start');
    await page.selectOption('#f-next', 'welcome');
    await page.click('#step-form button[type=submit]');
    await page.waitForSelector('#f-duration[aria-invalid="true"]');
    expect(await page.textContent('#f-duration-err')).toMatch(/seconds or until/);
    expect(await scrollWidth()).toBeLessThanOrEqual(360);
    await page.fill('#f-duration', '2');
    await page.selectOption('#f-duration_unit', '3600');
    await page.click('#step-form button[type=submit]');
    await page.waitForSelector('[data-step="settle"]');

    const drawn = await page.$$eval('svg.journey-graph [data-step]', (nodes) =>
      nodes.map((n) => n.getAttribute('data-step')),
    );
    expect(drawn.sort()).toEqual(['end', 'settle', 'welcome']);
    expect(await page.textContent('[data-step="settle"] .jg-counts')).toBe('0 entered');
    expect(await scrollWidth()).toBeLessThanOrEqual(360);

    await page.click('#journey-activate');
    await page.waitForSelector('#journey-status-badge');
    expect((await page.textContent('#journey-status-badge'))?.trim()).toBe('active');
    const saved = await json(await h.get(`/v1/journeys/${id}`));
    expect(saved).toMatchObject({ status: 'active', start: 'settle' });
    expect(saved.steps).toEqual([
      { id: 'end', type: 'exit' },
      {
        id: 'welcome',
        type: 'send_email',
        template_id: templateId,
        template_version: expect.any(Number),
        subject: 'Welcome, {{customer.first_name}}',
        next: 'end',
      },
      { id: 'settle', type: 'wait', seconds: 7200, next: 'welcome' },
    ]);
  });
});
