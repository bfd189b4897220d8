// biome-ignore-all lint/suspicious/noExplicitAny: page.evaluate bodies run in the browser, whose DOM types this project does not load
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { simpleParser } from 'mailparser';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { ROLES, type Role } from '../../src/http/roles.js';
import { NAV } from '../../src/ui/nav.js';
import { userWithLink } from '../../src/users/first-admin.js';
import { seedAbCampaign } from '../helpers/ab-fixture.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { startOidcProvider } from '../helpers/oidc-provider.js';
import { signInWithKey as signInAs, UI_PAGES } from './pages.js';

// A team's workspace in Debian's Chromium against the real app, PostgreSQL and an SMTP sink:
// people invited by mail, keys, the analyst's CSV and comparison, a sales rep on a phone,
// erasure from the card; then every page of UI_PAGES checked by axe in both themes, for width
// at 360 px, and shot at 1440×900 and 390×844 into test/artifacts/.

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test/artifacts/workspace');
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let server: ReturnType<typeof serve>;
let base: string;
let browser: Browser;
const contexts = new Map<string, BrowserContext>();
let campaigns: [number, number];
/** Ids (and the invitation path) the page list's placeholders stand for. */
const fixture: Record<string, string> = {};

const newContext = async (name: string, viewport = DESKTOP) => {
  const context = await browser.newContext({
    viewport,
    acceptDownloads: true,
    timezoneId: 'Pacific/Auckland',
  });
  contexts.set(name, context);
  return context;
};

/** The mails the sink received to `to`, parsed, oldest first. */
async function mailsTo(to: string) {
  const parsed = await Promise.all(sink.messages.map((raw) => simpleParser(raw)));
  return parsed.filter((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(to));
}

const linkIn = (text: string | undefined, kind: 'welcome' | 'reset') =>
  new RegExp(`https?://[^\\s]+/ui/${kind}/[\\w-]+`).exec(text ?? '')?.[0];

/** Signs a context in with an API key of `role`, through the sign-in page's key form. */
const signInWithKey = async (page: Page, role: Role) => signInAs(page, base, await h.keyFor(role));

/** Two campaigns already sent, with opens and clicks, straight in SQL (no queue needed to compare). */
async function seedSentCampaigns(): Promise<[number, number]> {
  const sql = h.db.sql;
  const ids: number[] = [];
  for (const [name, clickEvery] of [
    ['Spring sale', 2],
    ['Summer sale', 3],
  ] as const) {
    const [cmp] = await sql<{ id: number }[]>`
      insert into campaigns (name, segment_id, template_id, template_version, status, launched_at, finished_at)
      values (${name}, ${shop.segmentId}, ${shop.templateId}, 1, 'sent', now() - interval '2 days', now() - interval '2 days')
      returning id`;
    const people = [...shop.eligible.keys()];
    const messages = await sql<{ id: number; customer_id: number }[]>`
      insert into messages (campaign_id, customer_id, status, sent_at, offer_ids)
      select ${cmp!.id}, c, 'sent', now() - interval '2 days', ${[shop.offerIds[0]!]}::bigint[] from unnest(${people}::bigint[]) as c
      returning id, customer_id`;
    for (const [i, m] of messages.entries()) {
      await sql`insert into contact_events (customer_id, kind, message_id, campaign_id, at)
        values (${m.customer_id}, 'sent', ${m.id}, ${cmp!.id}, now() - interval '2 days'),
               (${m.customer_id}, 'opened', ${m.id}, ${cmp!.id}, now() - interval '1 day')`;
      if (i % clickEvery === 0)
        await sql`insert into contact_events (customer_id, kind, message_id, campaign_id, offer_id, at)
          values (${m.customer_id}, 'clicked', ${m.id}, ${cmp!.id}, ${shop.offerIds[0]!}, now() - interval '1 day')`;
    }
    ids.push(cmp!.id);
  }
  return [ids[0]!, ids[1]!];
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sink = await startSmtpSink({ keepInMemory: true });
  h = await createHarness();
  h.deps.config.SMTP_URL = sink.url;
  shop = await seedCampaignShop(h.db.sql, 12, h.deps.config.OFFERFLOW_SECRET);
  campaigns = await seedSentCampaigns();
  const created = async (path: string, body: unknown) => {
    const res = await h.post(path, body);
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
    return (await res.json()) as { id: number };
  };
  fixture.draft = String(
    (
      await created('/v1/campaigns', {
        name: 'Autumn draft',
        segment_id: shop.segmentId,
        template_id: shop.templateId,
      })
    ).id,
  );
  fixture.ab = String(await seedAbCampaign(h, shop, { name: 'Subject lines', decide: true }));
  fixture.abTesting = String(
    await seedAbCampaign(h, shop, { name: 'Subject lines, running', decide: false }),
  );
  fixture.trigger = String(
    (await created('/v1/triggers', { name: 'Thank you', event: 'purchase', template_id: shop.templateId }))
      .id,
  );
  fixture.partial = String(
    (
      await created('/v1/partials', {
        name: 'footer',
        mjml: '<mj-section><mj-column><mj-text>La Boutique, 1 rue du Jardin</mj-text></mj-column></mj-section>',
      })
    ).id,
  );
  // An endpoint nothing delivers to (no worker runs here): a local address, allowed for it alone.
  h.deps.config.WEBHOOK_ALLOW_PRIVATE = true;
  fixture.webhook = String(
    (await created('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['message.sent'] })).id,
  );
  h.deps.config.WEBHOOK_ALLOW_PRIVATE = false;
  const journey = await created('/v1/journeys', {
    name: 'Abandoned cart',
    entry: { event: 'cart_updated' },
    re_entry: 'after_exit',
    goal: { purchase: {} },
    start: 'wait_order',
    steps: [
      {
        id: 'wait_order',
        type: 'wait_for_event',
        event: 'purchase',
        timeout_seconds: 3600,
        on_event: 'bought',
        on_timeout: 'big',
      },
      {
        id: 'big',
        type: 'branch',
        rule: { '>=': [{ var: 'customer.total_spent' }, 100] },
        // biome-ignore lint/suspicious/noThenProperty: a branch step's field, named as the API names it.
        then: 'ab',
        else: 'remind',
      },
      {
        id: 'ab',
        type: 'split',
        paths: [
          { weight: 50, next: 'remind' },
          { weight: 50, next: 'bought', holdout: true },
        ],
      },
      { id: 'remind', type: 'send_email', template_id: shop.templateId, offers_per_email: 2, next: 'notify' },
      { id: 'notify', type: 'webhook', endpoint_id: Number(fixture.webhook), next: 'pause' },
      { id: 'pause', type: 'wait', seconds: 86400, next: 'bought' },
      { id: 'bought', type: 'exit' },
    ],
  });
  expect((await h.post(`/v1/journeys/${journey.id}/activate`)).status).toBe(200);
  fixture.journey = String(journey.id);
  await created('/v1/attributes', {
    key: 'loyalty_tier',
    type: 'string',
    description: 'Gold, silver or bronze',
  });
  fixture.attribute = 'loyalty_tier';
  // The catalogue: products with texts in two languages and free attributes, co-purchases that
  // give a customer recommendations, and offers with a code pool (one running low).
  const products = await h.post('/v1/products', [
    {
      sku: 'SOFA',
      title: { en: 'Grey sofa', fr: 'Canapé gris' },
      description: { en: 'Three seats, washable covers', fr: 'Trois places, housses lavables' },
      price: 899,
      category: 'furniture',
      brand: 'Atelier',
      stock: 12,
      url: 'https://shop.example/sofa',
      colour: 'grey',
      width_cm: 210,
    },
    { sku: 'CUSHION', title: 'Wool cushion', price: 45, category: 'textile', url: 'https://shop.example/c' },
    { sku: 'THROW', title: 'Linen throw', price: 49, category: 'textile', in_stock: false },
  ]);
  expect(products.status).toBe(201);
  const catalogueCustomers: number[] = [];
  for (const who of ['cat-a', 'cat-b', 'cat-c']) {
    const res = await h.post('/v1/customers', {
      external_id: who,
      email: `${who}@example.org`,
      first_name: `Cat ${who.slice(-1).toUpperCase()}`,
      consents: { marketing_email: true },
    });
    catalogueCustomers.push(((await res.json()) as { id: number }).id);
  }
  const lineOf = (who: string, sku: string, n: number) => ({
    external_line_id: `cat-${n}`,
    customer_external_id: who,
    order_ref: `cat-${who}`,
    sku,
    amount: 10,
    purchased_at: new Date(Date.now() - 20 * 86_400_000).toISOString(),
  });
  const lines = await h.post('/v1/purchases', [
    lineOf('cat-b', 'SOFA', 1),
    lineOf('cat-b', 'CUSHION', 2),
    lineOf('cat-c', 'SOFA', 3),
    lineOf('cat-c', 'CUSHION', 4),
    lineOf('cat-a', 'SOFA', 5),
  ]);
  expect(lines.status).toBe(201);
  expect((await h.post('/v1/recommendations/refresh', { customer_ids: catalogueCustomers })).status).toBe(
    200,
  );
  fixture.product = 'SOFA';
  fixture.recommendedCustomer = String(catalogueCustomers[0]);
  fixture.pooledOffer = String(
    (await created('/v1/offers', { name: 'Cushion codes', title: '-15 % on a cushion' })).id,
  );
  expect(
    (await h.post(`/v1/offers/${fixture.pooledOffer}/codes`, { count: 10, pattern: 'CUSH-####', low_at: 20 }))
      .status,
  ).toBe(201);
  fixture.freshOffer = String((await created('/v1/offers', { name: 'Spring codes', title: 'Spring' })).id);
  const [imported] = await h.db.sql<{ id: number }[]>`
    insert into imports (kind, filename, options, status) values ('purchases', 'day-1.csv', '{}', 'failed')
    returning id`;
  fixture.import = String(imported!.id);
  const sender = await h.post('/v1/senders', {
    from_address: 'offers@shop.example',
    from_name: 'La Boutique',
    dkim_domain: 'shop.example',
    dkim_selector: 's2026',
  });
  expect(sender.status).toBe(201);
  await new Promise<void>((resolve) => {
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  h.deps.config.PUBLIC_URL = base;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  for (const context of contexts.values()) await context.close().catch(() => {});
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await sink?.close();
  await h?.close();
});

describe('the workspace in Chromium', () => {
  it('a new admin signs in from the command-line link, invites a marketer by mail, who sets a password and signs in', async () => {
    const { url } = await userWithLink(h.db.sql, h.deps.config, {
      email: 'boss@shop.example',
      role: 'admin',
      name: 'Boss',
      now: new Date(),
    });
    const admin = await (await newContext('admin')).newPage();
    await admin.goto(url);
    await admin.fill('#f-password', 'short');
    await admin.click('#set-password-form button[type=submit]');
    // The browser's own check (minlength) stops it; the server's check stands behind it.
    expect(admin.url()).toBe(url);
    await admin.fill('#f-password', 'correct horse battery staple');
    await admin.click('#set-password-form button[type=submit]');
    await admin.waitForURL(`${base}/ui`);
    expect(await admin.textContent('.who')).toContain('Boss · admin');

    await admin.goto(`${base}/ui/users`);
    await admin.fill('#f-email', 'not an address');
    await admin.click('#invite-form button[type=submit]');
    await admin.waitForSelector('#f-email[aria-invalid="true"]');
    await admin.fill('#f-email', 'mia@shop.example');
    await admin.fill('#f-name', 'Mia Marketer');
    await admin.selectOption('#f-role', 'marketer');
    await admin.click('#invite-form button[type=submit]');
    await admin.waitForSelector('#users-notice');
    expect(await admin.textContent('#users-notice')).toContain('mia@shop.example');
    await admin.screenshot({ path: join(ARTIFACTS, 'flow-users-invited.png'), fullPage: true });

    const [invitation] = await mailsTo('mia@shop.example');
    expect(invitation?.subject).toBe('You are invited to Offerflow');
    const link = linkIn(invitation!.text, 'welcome')!;
    expect(link).toBeDefined();

    const mia = await (await newContext('marketer', PHONE)).newPage();
    await mia.goto(link);
    await mia.fill('#f-password', 'marketing is my passion');
    await mia.click('#set-password-form button[type=submit]');
    await mia.waitForURL(`${base}/ui`);
    expect(await mia.textContent('.who')).toContain('Mia Marketer · marketer');
    // The link worked once.
    await mia.goto(link);
    expect(await mia.textContent('h1')).toBe('This link no longer works');

    // Signed out, she signs in again with the password.
    await mia.goto(`${base}/ui`);
    await mia.click('[data-menu-toggle]');
    await mia.click('.signout button');
    await mia.waitForURL(/\/ui\/login/);
    await mia.fill('#f-email', 'MIA@shop.example');
    await mia.fill('#f-password', 'wrong password, surely');
    await mia.click('#password-form button[type=submit]');
    await mia.waitForSelector('#sign-in-error');
    await mia.fill('#f-password', 'marketing is my passion');
    await mia.click('#password-form button[type=submit]');
    await mia.waitForURL(`${base}/ui`);
    expect(await h.db.sql`select status from users where email = 'mia@shop.example'`).toEqual([
      { status: 'active' },
    ]);
  });

  it('an invited person signs in through an OpenID Connect provider', async () => {
    const idp = await startOidcProvider({
      clientId: 'offerflow',
      clientSecret: 'a-client-secret-for-the-test-provider',
      redirectUri: `${base}/ui/oidc/callback`,
    });
    Object.assign(h.deps.config, {
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: 'offerflow',
      OIDC_CLIENT_SECRET: 'a-client-secret-for-the-test-provider',
    });
    try {
      const admin = contexts.get('admin')!.pages()[0]!;
      await admin.goto(`${base}/ui/users`);
      await admin.fill('#f-email', 'sso@shop.example');
      await admin.selectOption('#f-role', 'analyst');
      await admin.click('#invite-form button[type=submit]');
      await admin.waitForSelector('#users-notice');

      const sso = await (await newContext('sso')).newPage();
      await sso.goto(`${base}/ui/login`);
      await sso.click('#oidc-sign-in');
      // The provider's own development login and consent pages.
      await sso.waitForURL((url) => url.href.startsWith(idp.issuer));
      await sso.fill('input[name=login]', 'sso@shop.example');
      await sso.fill('input[name=password]', 'anything');
      await sso.click('button[type=submit]');
      await sso.waitForSelector('button[autofocus], button[type=submit]');
      if (sso.url().startsWith(idp.issuer)) await sso.click('button[type=submit]');
      await sso.waitForURL(`${base}/ui`);
      expect(await sso.textContent('.who')).toContain('sso@shop.example · analyst');
      expect(await h.db.sql`select status from users where email = 'sso@shop.example'`).toEqual([
        { status: 'active' },
      ]);

      // Someone the provider knows but nobody invited gets no account.
      const stranger = await (await newContext('stranger')).newPage();
      await stranger.goto(`${base}/ui/oidc/start`);
      await stranger.fill('input[name=login]', 'stranger@elsewhere.example');
      await stranger.fill('input[name=password]', 'anything');
      await stranger.click('button[type=submit]');
      if (stranger.url().startsWith(idp.issuer)) await stranger.click('button[type=submit]');
      await stranger.waitForURL((url) => url.pathname === '/ui/oidc/callback');
      expect(await stranger.textContent('main')).toContain('has no Offerflow account');
    } finally {
      Object.assign(h.deps.config, {
        OIDC_ISSUER: undefined,
        OIDC_CLIENT_ID: undefined,
        OIDC_CLIENT_SECRET: undefined,
      });
      await idp.close();
    }
  });

  it('an admin creates a key, sees it once, and revokes it', async () => {
    const admin = contexts.get('admin')!.pages()[0]!;
    await admin.goto(`${base}/ui/keys`);
    await admin.fill('#f-name', 'ERP sync');
    await admin.selectOption('#f-role', 'integrator');
    await admin.click('#key-create-form button[type=submit]');
    await admin.waitForSelector('#new-key-value');
    const key = ((await admin.textContent('#new-key-value')) ?? '').trim();
    expect(key).toMatch(/^ofk_/);
    expect((await h.get('/v1/customers?limit=1', { key })).status).toBe(200);
    await admin.screenshot({ path: join(ARTIFACTS, 'flow-key-created.png'), fullPage: true });
    // Shown once: the list has its prefix only.
    await admin.goto(`${base}/ui/keys`);
    expect(await admin.content()).not.toContain(key);
    await admin.click('button[aria-label="Revoke ERP sync"]');
    await admin.waitForSelector('#keys-notice');
    expect((await h.get('/v1/customers?limit=1', { key })).status).toBe(401);
  });

  it('an analyst downloads a report as CSV and compares two campaigns', async () => {
    const analyst = await (await newContext('analyst')).newPage();
    await signInWithKey(analyst, 'analyst');
    await analyst.goto(`${base}/ui/campaigns/${campaigns[0]}`);
    // Names, not ids; no Save or Launch buttons for a role that may not use them.
    expect(await analyst.textContent('.kv')).not.toContain(`#${shop.segmentId}`);
    expect(await analyst.isVisible('text=Launch…')).toBe(false);
    const [download] = await Promise.all([
      analyst.waitForEvent('download'),
      analyst.click('#report a.csv >> nth=0'),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toContain('sent');
    // The hourly chart labels its UTC buckets in the viewer's zone (Pacific/Auckland here).
    const chart = await analyst.evaluate(() => {
      const canvas = (globalThis as any).document.querySelector('#timeseries');
      return {
        hours: JSON.parse(canvas.dataset.hours) as string[],
        labels: (globalThis as any).Chart.getChart(canvas).data.labels as string[],
        locale: new Intl.DateTimeFormat().resolvedOptions().locale as string,
      };
    });
    expect(chart.hours.length).toBeGreaterThan(0);
    const expected = new Intl.DateTimeFormat(chart.locale, {
      timeZone: 'Pacific/Auckland',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    }).format(new Date(chart.hours[0]!));
    expect(chart.labels[0]).toBe(expected);
    expect(download.suggestedFilename()).toBe(`campaign-${campaigns[0]}.csv`);

    await analyst.goto(`${base}/ui/reports`);
    await analyst.check(`input[name=campaign][value="${campaigns[0]}"]`);
    await analyst.check(`input[name=campaign][value="${campaigns[1]}"]`);
    await analyst.click('#compare-form button[type=submit]');
    await analyst.waitForSelector('#compare-table');
    const table = (await analyst.textContent('main table')) ?? '';
    expect(table).toContain('Spring sale');
    expect(table).toContain('Summer sale');
    expect(table).toContain('100.0%');
    // Launch times in the viewer's zone (the server's UTC in the title).
    const launched = analyst.locator('#compare-table time[data-localised]').first();
    expect(await launched.getAttribute('title')).toMatch(/UTC$/);
    expect(await launched.textContent()).not.toContain('UTC');
    await analyst.screenshot({ path: join(ARTIFACTS, 'flow-compare.png'), fullPage: true });
    const [compared] = await Promise.all([analyst.waitForEvent('download'), analyst.click('a.csv')]);
    const rows = readFileSync((await compared.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(rows).toHaveLength(3);

    // A campaign still sending: its report grows on the open page, without a reload.
    await analyst.goto(`${base}/ui/campaigns/${fixture.abTesting}`);
    const before = await analyst.textContent('#report');
    // A conversion on one of its messages (whichever variants the test cell drew, it counts).
    await h.db.sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id)
      select customer_id, 'converted', id, campaign_id from messages
      where campaign_id = ${Number(fixture.abTesting)} and status = 'sent' order by id limit 1`;
    await analyst.waitForFunction(
      (text) => (globalThis as any).document.querySelector('#report')?.textContent !== text,
      before,
      { timeout: 20_000 },
    );

    await analyst.goto(`${base}/ui/reports/offers`);
    const [offers] = await Promise.all([analyst.waitForEvent('download'), analyst.click('a.csv')]);
    expect(readFileSync((await offers.path())!, 'utf8')).toContain('offer_id');
  });

  it('a sales rep on a phone opens the menu, searches a customer and adds a note', async () => {
    const phone = await (await newContext('sales', PHONE)).newPage();
    await signInWithKey(phone, 'sales');
    await phone.goto(`${base}/ui/customers`);
    expect(await phone.isVisible('#site-nav')).toBe(false);
    await phone.click('[data-menu-toggle]');
    const link = phone.locator('#site-nav a', { hasText: 'Customers' });
    expect((await link.boundingBox())!.height).toBeGreaterThanOrEqual(44);
    await link.click();
    await phone.waitForURL(`${base}/ui/customers`);
    const [id, person] = [...shop.eligible.entries()][0]!;
    await phone.fill('input[name=q]', person.email);
    await phone.press('input[name=q]', 'Enter');
    await phone.click(`a[href="/ui/customers/${id}"]`);
    await phone.fill('#f-text', 'Asked about the garden sale.');
    await phone.click('#note-form button[type=submit]');
    await phone.waitForSelector('#timeline >> text=Asked about the garden sale.');
    await phone.screenshot({ path: join(ARTIFACTS, 'flow-sales-note.png'), fullPage: true });
  });

  it('every role on a phone: the menu opens, each of its links is a 44 px target that leads to a page no wider than 360 px', async () => {
    const failures: string[] = [];
    for (const role of ROLES) {
      const context = await newContext(`phone-${role}`, { width: 360, height: 800 });
      const phone = await context.newPage();
      await signInWithKey(phone, role);
      const first = NAV.find((n) => n.roles.includes(role) || role === 'admin')!;
      await phone.goto(`${base}${first.href}`);
      // The skip link comes first and leads to the content.
      await phone.keyboard.press('Tab');
      const skip = await phone.evaluate(() => {
        const el = (globalThis as any).document.activeElement;
        return { cls: el?.className, href: el?.getAttribute('href') };
      });
      if (skip.cls !== 'skip' || skip.href !== '#main')
        failures.push(`${role}: first Tab reaches ${JSON.stringify(skip)}`);
      const toggle = (await phone.locator('[data-menu-toggle]').boundingBox())!;
      if (toggle.height < 44 || toggle.width < 44)
        failures.push(`${role}: Menu is ${toggle.width}×${toggle.height}`);
      if (await phone.isVisible('#site-nav'))
        failures.push(`${role}: the menu is open before it is asked for`);
      await phone.click('[data-menu-toggle]');
      const links = await phone.locator('#site-nav nav a').all();
      const expected = NAV.filter((n) => role === 'admin' || n.roles.includes(role)).map((n) => n.label);
      const labels = await Promise.all(links.map((l) => l.textContent()));
      if (JSON.stringify(labels) !== JSON.stringify(expected))
        failures.push(`${role}: menu lists ${labels.join(', ')}`);
      for (const link of links) {
        const box = await link.boundingBox();
        if (!box || box.height < 44 || box.width > 360)
          failures.push(`${role}: ${await link.textContent()} is ${box?.width}×${box?.height}`);
      }
      const last = links.at(-1)!;
      const href = (await last.getAttribute('href'))!;
      await last.click();
      await phone.waitForURL(`${base}${href}`);
      const width = await phone.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
      if (width > 360) failures.push(`${role}: ${href} is ${width} px wide`);
      await phone.screenshot({ path: join(ARTIFACTS, `flow-phone-menu-${role}.png`) });
    }
    expect(failures).toEqual([]);
  });

  it('an admin erases a customer from the card after typing the confirmation', async () => {
    const admin = contexts.get('admin')!.pages()[0]!;
    const id = [...shop.eligible.keys()].at(-1)!;
    await admin.goto(`${base}/ui/customers/${id}`);
    const [exported] = await Promise.all([
      admin.waitForEvent('download'),
      admin.click('text=Export personal data (JSON)'),
    ]);
    expect(JSON.parse(readFileSync((await exported.path())!, 'utf8')).customer.id).toBe(id);
    await admin.click('#privacy summary');
    await admin.fill('#f-confirm', 'erase');
    await admin.click('#erase-form button[type=submit]');
    // The pattern refuses a wrong word before anything is sent.
    expect(await h.db.sql`select erased_at from customers where id = ${id}`).toEqual([{ erased_at: null }]);
    await admin.fill('#f-confirm', 'ERASE');
    await admin.click('#erase-form button[type=submit]');
    await admin.waitForSelector('#erased');
    const [row] = await h.db.sql<{ erased_at: Date | null; email: string | null }[]>`
      select erased_at, email from customers where id = ${id}`;
    expect(row!.erased_at).not.toBeNull();
    expect(row!.email).toBeNull();
  });

  it('a marketer generates a code pool on the offer page and sees how many codes are left', async () => {
    const admin = contexts.get('admin')!.pages()[0]!;
    await admin.setViewportSize(PHONE);
    await admin.goto(`${base}/ui/offers/${fixture.freshOffer}`);
    expect(await admin.textContent('#pool-count')).toContain('No code pool');
    // A pattern without a random character is refused at its field, nothing added.
    await admin.fill('#generate-codes-form #f-count', '30');
    await admin.fill('#generate-codes-form #f-pattern', 'SPRING');
    await admin.click('#generate-codes-form button[type=submit]');
    await admin.waitForSelector('#f-pattern[aria-invalid="true"]');
    expect(await admin.textContent('#pool-count')).toContain('No code pool');
    await admin.fill('#generate-codes-form #f-pattern', 'SPRING-####-####');
    await admin.click('#generate-codes-form button[type=submit]');
    await admin.waitForSelector('#codes .notice');
    expect(await admin.textContent('#codes .notice')).toContain('30 codes added');
    expect((await admin.textContent('#pool-count'))?.replace(/\s+/g, ' ')).toContain('30 of 30 codes left');
    await admin.screenshot({ path: join(ARTIFACTS, 'flow-offer-codes.png'), fullPage: true });
    const [{ n }] = (await h.db.sql`
      select count(*)::int as n from offer_codes where offer_id = ${Number(fixture.freshOffer)}
        and code ~ '^SPRING-[A-Z0-9]{4}-[A-Z0-9]{4}$'`) as unknown as [{ n: number }];
    expect(n).toBe(30);
    await admin.setViewportSize(DESKTOP);
  });

  it('every page: no axe violation in either theme, no wider than 360 px, shot at both sizes', async () => {
    const { url: welcome } = await userWithLink(h.db.sql, h.deps.config, {
      email: 'newcomer@shop.example',
      role: 'sales',
      now: new Date(),
    });
    fixture.welcome = new URL(welcome).pathname;
    const fill = (path: string) =>
      Object.entries(fixture)
        .reduce((p, [name, value]) => p.replaceAll(`{${name}}`, value), path)
        .replaceAll('{customer}', String([...shop.eligible.keys()][1]))
        .replaceAll('{campaign2}', String(campaigns[1]))
        .replaceAll('{campaign}', String(campaigns[0]))
        .replaceAll('{segment}', String(shop.segmentId))
        .replaceAll('{template}', String(shop.templateId))
        .replaceAll('{offer}', String(shop.offerIds[0]));
    const anonymous = await (await newContext('anonymous')).newPage();
    const pages = new Map<string, Page>([['anonymous', anonymous]]);
    const pageFor = async (role: Role | undefined, name: string) => {
      if (name === 'login' || name === 'reset' || name === 'welcome') return anonymous;
      const key = role ?? 'admin';
      if (!pages.has(key)) {
        const existing = contexts.get(key === 'admin' ? 'admin' : key)?.pages()[0];
        const page = existing ?? (await (await newContext(key)).newPage());
        if (!existing) await signInWithKey(page, key);
        pages.set(key, page);
      }
      return pages.get(key)!;
    };
    const failures: string[] = [];
    for (const entry of UI_PAGES) {
      const page = await pageFor(entry.as, entry.name);
      for (const [size, viewport, scheme] of [
        ['desktop', DESKTOP, 'light'],
        ['phone', PHONE, 'dark'],
      ] as const) {
        await page.setViewportSize(viewport);
        await page.emulateMedia({ colorScheme: scheme });
        const res = await page.goto(`${base}${fill(entry.path)}`);
        if (!res?.ok()) failures.push(`${entry.name}: HTTP ${res?.status()}`);
        await page.screenshot({ path: join(ARTIFACTS, `${entry.name}-${size}.png`), fullPage: true });
        if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE);
        const violations = await page.evaluate(async () => {
          const result = await (globalThis as any).axe.run((globalThis as any).document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
          });
          return result.violations.map(
            (v: any) =>
              `${v.id}: ${v.nodes
                .map((n: any) => n.target.join(' '))
                .slice(0, 3)
                .join(', ')}`,
          );
        });
        for (const v of violations) failures.push(`${entry.name} (${scheme}): ${v}`);
      }
      await page.setViewportSize({ width: 360, height: 800 });
      const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth);
      if (width > 360) failures.push(`${entry.name}: ${width} px wide at 360`);
    }
    expect(failures).toEqual([]);
  });
});
