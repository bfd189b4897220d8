import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { until } from '../helpers/until.js';

// A trigger on a custom event, through the real worker roles and an SMTP sink: posting
// `cart_updated` to /v1/events mails the customer, with the event's properties in the email.

let h: Harness;
let rig: SendingWorkers | undefined;

beforeAll(async () => {
  h = await createHarness();
  rig = await startSendingWorkers(h, { env: { WORKER_LOCK_MS: '5000' } });
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const mjml = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{customer.first_name}}, your cart is waiting.</mj-text>
  <mj-button href="{{event.properties.cart_url}}">Back to your cart</mj-button>
  <mj-text>Total {{event.properties.value}}</mj-text>
  <mj-text><a href="{{unsubscribe_url}}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

describe('a trigger on a custom event', () => {
  it('sends its email with the event’s properties, once per event, and its filter reads them', async () => {
    const template = await json(
      await h.post('/v1/templates', { name: 'Cart', subject: 'Your cart, {{customer.first_name}}', mjml }),
    );
    expect(template.id).toBeTruthy();
    const missing = await h.post('/v1/triggers', { name: 'x', event: 'event', template_id: template.id });
    expect(missing.status).toBe(422);
    expect(JSON.stringify(await json(missing))).toContain('params.event_name');
    const created = await h.post('/v1/triggers', {
      name: 'Abandoned cart',
      event: 'event',
      params: { event_name: 'cart_updated' },
      filter: { '>=': [{ var: 'event.properties.value' }, 20] },
      template_id: template.id,
    });
    expect(created.status, JSON.stringify(await created.clone().json())).toBe(201);
    const trigger = await json(created);
    expect(trigger.params).toEqual({ event_name: 'cart_updated' });
    await h.post('/v1/customers', {
      external_id: 'shopper-1',
      email: 'shopper@example.test',
      first_name: 'Sam',
      consents: { marketing_email: true },
    });
    const batch = [
      {
        type: 'track',
        event: 'cart_updated',
        userId: 'shopper-1',
        messageId: 'c-1',
        properties: { cart_url: 'https://shop.example/cart/77', value: 59.9 },
      },
      {
        type: 'track',
        event: 'cart_updated',
        userId: 'shopper-1',
        messageId: 'c-2',
        properties: { cart_url: 'https://shop.example/cart/78', value: 5 },
      },
      {
        type: 'track',
        event: 'product_viewed',
        userId: 'shopper-1',
        messageId: 'c-3',
        properties: { cart_url: 'https://shop.example/cart/79', value: 99 },
      },
    ];
    expect((await h.post('/v1/events', batch, { role: 'integrator' })).status).toBe(201);
    // Posted again: nothing new, nothing fires twice.
    expect((await h.post('/v1/events', batch, { role: 'integrator' })).status).toBe(200);
    await until(async () => {
      const [row] = await h.db
        .sql`select count(*)::int as n from messages where trigger_id = ${trigger.id} and status = 'sent'`;
      return row!.n >= 1;
    });
    await until(async () => rig!.sink.messages.length >= 1);
    const mails = await rig!.mails();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Your cart, Sam');
    // The button's link is tracked: its target rides in the signed click link.
    const html = String(mails[0]!.html);
    expect(mails[0]!.text).toContain('59.9');
    expect(
      html.includes('cart/77') || html.includes(encodeURIComponent('https://shop.example/cart/77')),
    ).toBe(true);
    const firings = await h.db.sql`select event_key from trigger_firings where trigger_id = ${trigger.id}`;
    expect(firings).toHaveLength(1);
  });
});
