import type { Page } from 'playwright-core';
import type { Role } from '../../src/http/roles.js';

/** Signs a browser page in with an API key through the sign-in page's folded key form. */
export async function signInWithKey(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/ui/login`);
  await page.click('.key-sign-in summary');
  await page.fill('#f-key', key);
  await page.click('#key-form button[type=submit]');
  await page.waitForURL((url) => !url.pathname.startsWith('/ui/login'));
}

/**
 * Every page of the web UI that the browser suites visit (axe in both themes, no horizontal
 * scroll at 360 px, screenshots at desktop and phone sizes). Add a page here with one line;
 * `{customer}`, `{campaign}`, `{draft}` (a draft campaign), `{ab}` and `{abTesting}` (A/B
 * campaigns decided and in their window), `{segment}`, `{template}`, `{offer}`,
 * `{trigger}`, `{journey}` (an active journey with a step of each type), `{partial}`, `{import}`,
 * `{webhook}`, `{attribute}`, `{product}` (a sku), `{pooledOffer}` (an offer with a low code
 * pool), `{recommendedCustomer}` (a customer with recommendations) and `{welcome}` (an invitation
 * link's path) are filled in from the suite's fixture. `as` is the role that opens it (admin
 * when absent); `login`, `reset` and `welcome` are opened signed out.
 */
export const UI_PAGES: ReadonlyArray<{ name: string; path: string; as?: Role }> = [
  { name: 'login', path: '/ui/login' },
  { name: 'reset', path: '/ui/reset' },
  { name: 'welcome', path: '{welcome}' },
  { name: 'dashboard', path: '/ui' },
  { name: 'customers', path: '/ui/customers?q=Name' },
  { name: 'customer-card', path: '/ui/customers/{customer}' },
  { name: 'customer-card-sales', path: '/ui/customers/{customer}', as: 'sales' },
  { name: 'segments', path: '/ui/segments' },
  { name: 'segment-new', path: '/ui/segments/new' },
  { name: 'segment', path: '/ui/segments/{segment}' },
  { name: 'offers', path: '/ui/offers' },
  { name: 'offer-new', path: '/ui/offers/new' },
  { name: 'offer', path: '/ui/offers/{offer}' },
  { name: 'offer-codes', path: '/ui/offers/{pooledOffer}' },
  { name: 'offer-analyst', path: '/ui/offers/{pooledOffer}', as: 'analyst' },
  { name: 'products', path: '/ui/products' },
  { name: 'products-search', path: '/ui/products?q=cushion&stock=in' },
  { name: 'product', path: '/ui/products/{product}' },
  { name: 'product-analyst', path: '/ui/products/{product}', as: 'analyst' },
  { name: 'customer-card-recommended', path: '/ui/customers/{recommendedCustomer}' },
  { name: 'campaigns', path: '/ui/campaigns' },
  { name: 'campaign-new', path: '/ui/campaigns/new' },
  { name: 'campaign', path: '/ui/campaigns/{campaign}' },
  { name: 'campaign-analyst', path: '/ui/campaigns/{campaign}', as: 'analyst' },
  { name: 'campaign-ab-testing', path: '/ui/campaigns/{abTesting}' },
  { name: 'campaign-ab', path: '/ui/campaigns/{ab}', as: 'analyst' },
  { name: 'campaign-edit', path: '/ui/campaigns/{draft}/edit' },
  { name: 'campaign-launch', path: '/ui/campaigns/{draft}/launch' },
  { name: 'templates', path: '/ui/templates' },
  { name: 'template', path: '/ui/templates/{template}' },
  { name: 'template-new', path: '/ui/templates/new' },
  { name: 'partials', path: '/ui/partials' },
  { name: 'partial-new', path: '/ui/partials/new' },
  { name: 'partial', path: '/ui/partials/{partial}' },
  { name: 'triggers', path: '/ui/triggers' },
  { name: 'trigger-new', path: '/ui/triggers/new' },
  { name: 'trigger', path: '/ui/triggers/{trigger}' },
  { name: 'journeys', path: '/ui/journeys' },
  { name: 'journey-new', path: '/ui/journeys/new' },
  { name: 'journey', path: '/ui/journeys/{journey}' },
  { name: 'journey-analyst', path: '/ui/journeys/{journey}', as: 'analyst' },
  { name: 'journey-step-new', path: '/ui/journeys/{journey}/steps/new?type=split' },
  { name: 'imports', path: '/ui/imports' },
  { name: 'import', path: '/ui/imports/{import}' },
  { name: 'reports', path: '/ui/reports', as: 'analyst' },
  {
    name: 'reports-compare',
    path: '/ui/reports/compare?campaign={campaign}&campaign={campaign2}',
    as: 'analyst',
  },
  { name: 'reports-offers', path: '/ui/reports/offers', as: 'analyst' },
  { name: 'users', path: '/ui/users' },
  { name: 'keys', path: '/ui/keys' },
  { name: 'senders', path: '/ui/senders' },
  { name: 'holdouts', path: '/ui/holdouts' },
  { name: 'attributes', path: '/ui/attributes' },
  { name: 'attribute', path: '/ui/attributes/{attribute}' },
  { name: 'audit', path: '/ui/audit' },
  { name: 'account', path: '/ui/account' },
  { name: 'events', path: '/ui/events' },
  { name: 'events-analyst', path: '/ui/events', as: 'analyst' },
  { name: 'webhooks', path: '/ui/webhooks' },
  { name: 'webhook', path: '/ui/webhooks/{webhook}' },
];
