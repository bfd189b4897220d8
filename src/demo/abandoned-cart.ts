import { createApp } from '../app.js';
import type { Sql } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { createApiKey } from '../http/api-keys.js';
import { createJourney, transitionJourney } from '../journeys/manage.js';
import { cartShoppers, findJourneyByName, journeyOutcomes } from './store.js';

// The demo's abandoned-cart journey, fed by `cart_updated` events: a cart starts it, an order
// within the wait ends it with nothing sent, no order sends one reminder.

export const ABANDONED_CART = 'Demo: abandoned cart';
const WAIT_SECONDS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The journey (created and activated on the first run); its id. */
export async function ensureCartJourney(
  sql: Sql,
  input: { template_id: number; sender_id: number },
): Promise<number> {
  const found = await findJourneyByName(sql, ABANDONED_CART);
  if (found) return found;
  const journey = await createJourney(sql, {
    name: ABANDONED_CART,
    entry: { event: 'cart_updated' },
    re_entry: 'after_exit',
    start: 'wait_order',
    steps: [
      {
        id: 'wait_order',
        type: 'wait_for_event',
        event: 'purchase',
        timeout_seconds: WAIT_SECONDS,
        on_event: 'ordered',
        on_timeout: 'remind',
      },
      {
        id: 'remind',
        type: 'send_email',
        template_id: input.template_id,
        sender: input.sender_id,
        offers_per_email: 2,
        subject: '{{customer.first_name}}, your cart of {{event.properties.value}} € is waiting',
        next: 'done',
      },
      { id: 'ordered', type: 'exit' },
      { id: 'done', type: 'exit' },
    ],
  });
  await transitionJourney(sql, journey.id, 'activate');
  return journey.id;
}

/**
 * Six shoppers who did not open the campaign leave a cart (POST /v1/events, `cart_updated`); three
 * of them order within the wait (POST /v1/purchases). Waits for the journey to settle and says what it did.
 */
export async function simulateCarts(deps: AppDeps, journeyId: number, campaignId: number): Promise<string> {
  const app = createApp(deps);
  const { key } = await createApiKey(deps.sql, {
    name: `demo carts ${new Date().toISOString()}`,
    role: 'admin',
  });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const shoppers = await cartShoppers(deps.sql, 6, campaignId);
  const since = new Date();
  const stamp = since.getTime();
  for (const [i, s] of shoppers.entries()) {
    await app.request('/v1/events', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        type: 'track',
        event: 'cart_updated',
        userId: s.external_id,
        messageId: `demo-cart-${stamp}-${s.id}`,
        properties: { value: 40 + i * 15, cart_url: `https://shop.example/cart/${s.id}` },
      }),
    });
  }
  await sleep(1000);
  for (const s of shoppers.filter((_, i) => i % 2 === 0)) {
    await app.request('/v1/purchases', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        external_line_id: `demo-cart-order-${stamp}-${s.id}`,
        customer_id: s.id,
        order_ref: `demo-cart-${stamp}-${s.id}`,
        amount: 55,
        currency: 'EUR',
        purchased_at: new Date().toISOString(),
        source: 'demo-shop',
      }),
    });
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const o = await journeyOutcomes(deps.sql, journeyId, since);
    if ((o.active === 0 && o.pending_mail === 0 && o.entered >= shoppers.length) || Date.now() > deadline)
      return `Journey "${ABANDONED_CART}": ${o.entered} carts entered it, ${o.ordered} ordered within the wait (nothing sent), ${o.sent} reminders sent${o.active ? `, ${o.active} still inside` : ''}`;
    await sleep(300);
  }
}
