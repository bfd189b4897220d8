import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { getPage, postForm, signInToUi } from '../helpers/ui-session.js';

// The Events and Webhooks pages and the events on the customer card, over app.request: forms
// without JSON, the API's roles, the secret shown once, deliveries with replay.

let h: Harness;

beforeAll(async () => {
  // The endpoint below is on loopback: allowed, as an operator would for a private receiver.
  h = await createHarness({
    config: {
      ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
      WEBHOOK_ALLOW_PRIVATE: true,
    },
  });
});
afterAll(async () => {
  await h?.close();
});

describe('the Events page', () => {
  it('lists event types with their volume and declares one from plain fields', async () => {
    const posted = await h.post('/v1/events', [
      {
        type: 'track',
        event: 'cart_updated',
        userId: 'ui-ev-1',
        messageId: 'ui-ev-m1',
        properties: { cart_url: 'https://shop.example/cart/ui-1', value: 12 },
      },
      { type: 'track', event: 'cart_updated', userId: 'ui-ev-1', messageId: 'ui-ev-m2' },
    ]);
    expect(posted.status).toBe(201);
    const marketer = await signInToUi(h, 'marketer');
    const list = await (await getPage(h, '/ui/events', marketer.session)).text();
    expect(list).toContain('<code>cart_updated</code>');
    expect(list).toMatch(/<td class="num">2<\/td>/);
    expect(list).toContain('id="event-type-form"');

    // A name left blank is refused at its field, nothing sent.
    const blank = await postForm(h, '/ui/events', marketer.session, { _csrf: marketer.csrf, name: '' });
    expect(blank.status).toBe(422);
    expect(await blank.text()).toMatch(/id="f-name"[^>]*aria-invalid="true"/);

    const saved = await postForm(h, '/ui/events', marketer.session, {
      _csrf: marketer.csrf,
      name: 'cart_updated',
      description: 'The cart changed',
      prop_name_0: 'cart_url',
      prop_type_0: 'string',
      prop_desc_0: 'Where the cart is',
      prop_name_1: 'email_hint',
      prop_type_1: 'string',
      prop_sensitive_1: 'on',
      prop_name_2: '',
    });
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain('Saved cart_updated.');
    const type = await json(await h.get('/v1/event-types/cart_updated'));
    expect(type).toMatchObject({ description: 'The cart changed', declared: true, count: 2 });
    expect(type.properties).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'cart_url', type: 'string', description: 'Where the cart is' }),
        expect.objectContaining({ name: 'email_hint', sensitive: true }),
      ]),
    );
    // The edit link fills the form with what the type already has.
    const edit = await (await getPage(h, '/ui/events?name=cart_updated', marketer.session)).text();
    expect(edit).toContain('Describe cart_updated');
    expect(edit).toContain('value="Where the cart is"');

    // An analyst reads without a form; a sales rep does not see event types at all.
    const analyst = await signInToUi(h, 'analyst');
    const read = await getPage(h, '/ui/events', analyst.session);
    expect(read.status).toBe(200);
    expect(await read.text()).not.toContain('id="event-type-form"');
    const refused = await postForm(h, '/ui/events', analyst.session, { _csrf: analyst.csrf, name: 'x' });
    expect(refused.status).toBe(403);
    const sales = await signInToUi(h, 'sales');
    expect((await getPage(h, '/ui/events', sales.session)).status).toBe(403);
  });

  it('the customer card shows the customer’s recent events with their properties', async () => {
    const [c] = await h.db.sql`select id from customers where external_id = 'ui-ev-1'`;
    const sales = await signInToUi(h, 'sales');
    const card = await (await getPage(h, `/ui/customers/${c!.id}`, sales.session)).text();
    expect(card).toContain('Recent events');
    expect(card).toContain('<strong>cart_updated</strong>');
    expect(card).toContain('https://shop.example/cart/ui-1');
  });
});

describe('the Webhooks page', () => {
  it('creates an endpoint from checkboxes, shows its secret once, lists deliveries and replays one', async () => {
    const admin = await signInToUi(h, 'admin');
    const refused = await postForm(h, '/ui/webhooks', admin.session, {
      _csrf: admin.csrf,
      url: 'http://127.0.0.1:9/hook',
    });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain('subscribe to at least one event');

    const created = await postForm(h, '/ui/webhooks', admin.session, {
      _csrf: admin.csrf,
      url: 'http://127.0.0.1:9/hook',
      description: 'CRM',
      event_message_opened: 'on',
      event_customer_erased: 'on',
    });
    expect(created.status).toBe(201);
    const html = await created.text();
    const secret = /id="webhook-secret">\s*(whsec_[^<\s]+)/.exec(html)?.[1];
    expect(secret).toMatch(/^whsec_/);
    const [endpoint] = (await json(await h.get('/v1/webhooks'))).data;
    expect(endpoint).toMatchObject({
      url: 'http://127.0.0.1:9/hook',
      events: ['message.opened', 'customer.erased'],
      enabled: true,
    });
    // Only in that answer: the list and the endpoint's page do not show it again.
    expect(await (await getPage(h, '/ui/webhooks', admin.session)).text()).not.toContain(secret!);
    expect(await (await getPage(h, `/ui/webhooks/${endpoint.id}`, admin.session)).text()).not.toContain(
      secret!,
    );

    const [c] = await h.db.sql`select id from customers where external_id = 'ui-ev-1'`;
    await h.db.sql`insert into contact_events (customer_id, kind, at) values (${c!.id}, 'opened', now())`;
    const deliveries = await (await getPage(h, `/ui/webhooks/${endpoint.id}`, admin.session)).text();
    expect(deliveries).toContain('<code>message.opened</code>');
    const [delivery] = (await json(await h.get(`/v1/webhooks/${endpoint.id}/deliveries`))).data;
    await h.db.sql`update webhook_deliveries set status = 'failed', attempts = 3, last_status = 500,
      last_error = 'HTTP 500' where id = ${delivery.id}`;
    const failed = await (await getPage(h, `/ui/webhooks/${endpoint.id}`, admin.session)).text();
    expect(failed).toContain('HTTP 500');
    expect(failed).toContain('delivery-failed');
    const replayed = await postForm(
      h,
      `/ui/webhooks/${endpoint.id}/deliveries/${delivery.id}/replay`,
      admin.session,
      { _csrf: admin.csrf },
    );
    expect(replayed.status).toBe(303);
    expect((await json(await h.get(`/v1/webhooks/${endpoint.id}/deliveries`))).data[0].status).toBe(
      'pending',
    );

    const disabled = await postForm(h, `/ui/webhooks/${endpoint.id}/disable`, admin.session, {
      _csrf: admin.csrf,
      back: `/ui/webhooks/${endpoint.id}`,
    });
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get('location')).toBe(`/ui/webhooks/${endpoint.id}`);
    expect((await json(await h.get(`/v1/webhooks/${endpoint.id}`))).enabled).toBe(false);
    await postForm(h, `/ui/webhooks/${endpoint.id}/enable`, admin.session, { _csrf: admin.csrf });
    expect((await json(await h.get(`/v1/webhooks/${endpoint.id}`))).enabled).toBe(true);

    // Admins only, like the API.
    const marketer = await signInToUi(h, 'marketer');
    expect((await getPage(h, '/ui/webhooks', marketer.session)).status).toBe(403);
    expect((await getPage(h, `/ui/webhooks/${endpoint.id}`, marketer.session)).status).toBe(403);

    const deleted = await postForm(h, `/ui/webhooks/${endpoint.id}/delete`, admin.session, {
      _csrf: admin.csrf,
    });
    expect(deleted.status).toBe(303);
    expect((await h.get(`/v1/webhooks/${endpoint.id}`)).status).toBe(404);
  });
});
