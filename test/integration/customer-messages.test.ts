import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// GET /v1/customers/{id}/messages and POST /v1/messages/{id}/cancel: what a customer is due to
// get (and got), and staff cancelling one email, which the contact history then shows.

let h: Harness;
let customer: number;
let other: number;
let reminder: number;
let sent: number;
let held: number;
let triggerId: number;
let campaignId: number;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  const [c1, c2] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values ('msg-1', 'm1@example.test'), ('msg-2', 'm2@example.test')
    returning id`;
  customer = c1!.id;
  other = c2!.id;
  const [trigger] = await h.db.sql<{ id: number }[]>`
    insert into triggers (name, event, template_id, template_version) values ('Replenish', 'purchase', ${t!.id}, 1)
    returning id`;
  triggerId = trigger!.id;
  const [campaign] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('Spring sale', 'sending') returning id`;
  campaignId = campaign!.id;
  [sent, held, reminder] = (
    await h.db.sql<{ id: number }[]>`
      insert into messages (campaign_id, trigger_id, customer_id, template_id, template_version, status, send_at, sent_at, offer_ids)
      values
        (null, ${triggerId}, ${customer}, ${t!.id}, 1, 'sent', null, now() - interval '3 days', '{}'),
        (${campaignId}, null, ${customer}, ${t!.id}, 1, 'held', null, null, '{}'),
        (null, ${triggerId}, ${customer}, ${t!.id}, 1, 'queued', now() + interval '20 days', null, '{7,9}')
      returning id`
  ).map((r) => r.id) as [number, number, number];
  await h.db.sql`
    insert into messages (trigger_id, customer_id, template_id, template_version, status, send_at)
    values (${triggerId}, ${other}, ${t!.id}, 1, 'queued', now() + interval '1 day')`;
});
afterAll(async () => h.close());

describe('GET /v1/customers/{id}/messages', () => {
  it('lists the customer’s emails newest first, with their campaign or trigger, paged and by status', async () => {
    const all = await json(await h.get(`/v1/customers/${customer}/messages`, { role: 'sales' }));
    expect(all.data.map((m: { id: number }) => m.id)).toEqual([reminder, held, sent]);
    expect(all.data[0]).toMatchObject({
      trigger_id: triggerId,
      trigger_name: 'Replenish',
      campaign_name: null,
      status: 'queued',
      offer_ids: [7, 9],
    });
    expect(Date.parse(all.data[0].send_at)).toBeGreaterThan(Date.now() + 19 * 86_400_000);
    expect(all.data[1]).toMatchObject({
      campaign_id: campaignId,
      campaign_name: 'Spring sale',
      status: 'held',
    });
    expect(all.next_cursor).toBeNull();

    const coming = await json(await h.get(`/v1/customers/${customer}/messages?status=queued,held`));
    expect(coming.data.map((m: { id: number }) => m.id)).toEqual([reminder, held]);

    const first = await json(await h.get(`/v1/customers/${customer}/messages?limit=2`));
    expect(first.data).toHaveLength(2);
    const rest = await json(
      await h.get(
        `/v1/customers/${customer}/messages?limit=2&cursor=${encodeURIComponent(first.next_cursor)}`,
      ),
    );
    expect(rest.data.map((m: { id: number }) => m.id)).toEqual([sent]);
  });

  it('refuses an unknown status (422 naming it), a bad cursor (400), an unknown customer (404), analysts (403)', async () => {
    const bad = await h.get(`/v1/customers/${customer}/messages?status=queued,lost`);
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0]).toMatchObject({ path: 'status', in: 'query' });
    expect((await h.get(`/v1/customers/${customer}/messages?cursor=nope`)).status).toBe(400);
    expect((await h.get('/v1/customers/987654/messages')).status).toBe(404);
    expect((await h.get(`/v1/customers/${customer}/messages`, { role: 'analyst' })).status).toBe(403);
  });
});

describe('POST /v1/messages/{id}/cancel', () => {
  it('cancels a queued reminder, notes it on the contact history with who and why, and not twice', async () => {
    const res = await h.post(
      `/v1/messages/${reminder}/cancel`,
      { reason: 'Asked on the phone not to get it' },
      { role: 'sales' },
    );
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      id: reminder,
      status: 'cancelled',
      suppressed_reason: 'cancelled_by_staff',
    });
    const timeline = await json(await h.get(`/v1/customers/${customer}/timeline?kinds=message_cancelled`));
    expect(timeline.data).toEqual([
      expect.objectContaining({
        kind: 'message_cancelled',
        text: 'Asked on the phone not to get it',
        author: expect.stringContaining('sales'),
        message_id: reminder,
        trigger_id: triggerId,
      }),
    ]);
    const again = await h.post(`/v1/messages/${reminder}/cancel`, undefined, { role: 'sales' });
    expect(again.status).toBe(409);
    expect((await json(again)).type).toContain('not-cancellable');
  });

  it('cancels a held A/B row without a body; refuses a sent one (409), unknown (404), a bad body (422), analysts (403)', async () => {
    expect((await h.post(`/v1/messages/${held}/cancel`)).status).toBe(200);
    const [row] = await h.db.sql<{ status: string }[]>`select status from messages where id = ${held}`;
    expect(row!.status).toBe('cancelled');
    const sentRes = await h.post(`/v1/messages/${sent}/cancel`, {});
    expect(sentRes.status).toBe(409);
    const [still] = await h.db.sql<{ status: string }[]>`select status from messages where id = ${sent}`;
    expect(still!.status).toBe('sent');
    expect((await h.post('/v1/messages/987654/cancel', {})).status).toBe(404);
    const [otherRow] = await h.db.sql<{ id: number }[]>`select id from messages where customer_id = ${other}`;
    const badBody = await h.post(`/v1/messages/${otherRow!.id}/cancel`, { reason: '', colour: 'red' });
    expect(badBody.status).toBe(422);
    expect((await h.post(`/v1/messages/${otherRow!.id}/cancel`, {}, { role: 'analyst' })).status).toBe(403);
    const [untouched] = await h.db.sql<
      { status: string }[]
    >`select status from messages where id = ${otherRow!.id}`;
    expect(untouched!.status).toBe('queued');
  });
});

describe('the customer card’s coming-up emails', () => {
  it('lists what the customer is due to get, and staff cancel one with a reason', async () => {
    const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
    const [due] = await h.db.sql<{ id: number }[]>`
      insert into messages (trigger_id, customer_id, template_id, template_version, status, send_at)
      values (${triggerId}, ${other}, ${t!.id}, 1, 'queued', now() + interval '2 days') returning id`;
    const { session, csrf } = await signInToUi(h, 'sales');
    const card = await (
      await h.app.request(`/ui/customers/${other}`, { headers: { cookie: session } })
    ).text();
    expect(card).toContain('id="coming-up"');
    expect(card).toMatch(new RegExp(`<li data-message="${due!.id}"><strong>Replenish</strong>`));
    expect(card).toContain('Cancel this email');
    const res = await h.app.request(`/ui/customers/${other}/messages/${due!.id}/cancel`, {
      method: 'POST',
      headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, reason: 'Complained about too many emails' }),
    });
    expect(res.status).toBe(303);
    const after = await (
      await h.app.request(`/ui/customers/${other}`, { headers: { cookie: session } })
    ).text();
    expect(after).not.toContain(`data-message="${due!.id}"`);
    expect(after).toContain('Complained about too many emails');
    // Analysts read reports, not customers.
    const analyst = (await signInToUi(h, 'analyst')).session;
    expect((await h.app.request(`/ui/customers/${other}`, { headers: { cookie: analyst } })).status).toBe(
      403,
    );
  });
});
