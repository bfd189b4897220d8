import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The UI's trigger pages: a marketer creates, edits, switches off and deletes a trigger and sets
// the frequency cap, each through the API; bad input comes back at its field, nothing saved.

let h: Harness;
let templateId: number;
let session: string;
let csrf: string;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
  ({ session, csrf } = await signInToUi(h, 'marketer'));
});
afterAll(async () => h.close());

const post = (path: string, fields: Record<string, string>, cookie = session) =>
  h.app.request(path, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
const html = async (path: string, cookie = session) =>
  (await h.app.request(path, { headers: { cookie } })).text();
const triggerCount = async () => (await h.db.sql`select count(*)::int as n from triggers`)[0]!.n as number;

const winBack = () => ({
  _csrf: csrf,
  name: 'Win-back',
  event: 'inactive_for',
  'params.days': '60',
  filter: '{">": [{"var": "customer.order_count"}, 1]}',
  'delay.hours': '2',
  'delay.at_local_hour': '10',
  template_id: String(templateId),
  offers_per_email: '3',
  cancel_on_purchase: 'on',
  enabled: 'on',
});

describe('trigger pages', () => {
  it('creates a trigger from the form, as the API stores it, and shows its settings', async () => {
    const res = await post('/ui/triggers', winBack());
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    const id = Number(/\/ui\/triggers\/(\d+)\?saved=1$/.exec(location)?.[1]);
    expect(await json(await h.get(`/v1/triggers/${id}`))).toMatchObject({
      name: 'Win-back',
      event: 'inactive_for',
      params: { days: 60 },
      filter: { '>': [{ var: 'customer.order_count' }, 1] },
      delay: { hours: 2, at_local_hour: 10 },
      template_id: templateId,
      template_version: 1,
      offers_per_email: 3,
      cancel_on_purchase: true,
      enabled: true,
    });
    const page = await html(location);
    expect(page).toContain('<p class="notice">Saved.</p>');
    expect(page).toContain('No purchase for some days: 60 days');
    expect(page).toContain('2 h after, then at 10:00 local time: template');
    expect(page).toContain('3 offers; a later purchase cancels it');
    expect(page).toContain('id="trigger-form"');
  });

  it('shows bad JSON and the API’s refusals at their fields, saving nothing', async () => {
    const before = await triggerCount();
    const badJson = await post('/ui/triggers', { ...winBack(), filter: '{nope' });
    expect(badJson.status).toBe(422);
    expect(await badJson.text()).toMatch(/id="f-filter-err">not valid JSON/);
    const { enabled: _on, ...switchedOff } = winBack();
    const noDays = await post('/ui/triggers', { ...switchedOff, 'params.days': '' });
    expect(noDays.status).toBe(422);
    const noDaysHtml = await noDays.text();
    expect(noDaysHtml).toMatch(/id="f-params-days-err">[^<]*inactive_for needs days/);
    // "On" left unticked stays unticked when the form comes back; the rest as typed.
    expect(noDaysHtml).toMatch(/<input type="checkbox" name="enabled" value="on"(?! checked)[^>]*\/?>/);
    expect(noDaysHtml).toMatch(/<input type="checkbox" name="cancel_on_purchase" value="on" checked/);
    // What was typed comes back.
    expect(noDaysHtml).toContain(
      '{&quot;&gt;&quot;: [{&quot;var&quot;: &quot;customer.order_count&quot;}, 1]}',
    );
    const badRule = await post('/ui/triggers', { ...winBack(), filter: '{"nope": [1]}' });
    expect(badRule.status).toBe(422);
    expect(await badRule.text()).toMatch(/id="f-filter-err">[^<]+/);
    expect(await triggerCount()).toBe(before);
  });

  it('edits, switches off and on, and deletes a trigger; its report stays', async () => {
    const created = await post('/ui/triggers', { ...winBack(), name: 'Replenish' });
    const id = Number(/(\d+)\?saved=1$/.exec(created.headers.get('location')!)?.[1]);
    const edited = await post(`/ui/triggers/${id}`, {
      ...winBack(),
      name: 'Replenish coffee',
      event: 'purchase',
      'params.days': '',
      filter: '',
      cancel_on_purchase: '',
    });
    expect(edited.status).toBe(303);
    expect(await json(await h.get(`/v1/triggers/${id}`))).toMatchObject({
      name: 'Replenish coffee',
      event: 'purchase',
      params: {},
      filter: null,
      cancel_on_purchase: false,
    });
    const off = await post(`/ui/triggers/${id}/off`, { _csrf: csrf });
    expect(off.status).toBe(303);
    expect((await json(await h.get(`/v1/triggers/${id}`))).enabled).toBe(false);
    expect(await html(`/ui/triggers/${id}`)).toContain('>Switch on</button>');
    await post(`/ui/triggers/${id}/on`, { _csrf: csrf });
    expect((await json(await h.get(`/v1/triggers/${id}`))).enabled).toBe(true);
    const deleted = await post(`/ui/triggers/${id}/delete`, { _csrf: csrf });
    expect(deleted.headers.get('location')).toBe('/ui/triggers?saved=1');
    expect((await h.get(`/v1/triggers/${id}`)).status).toBe(404);
    const report = await h.app.request(`/ui/triggers/${id}`, { headers: { cookie: session } });
    expect(report.status).toBe(200);
    const reportHtml = await report.text();
    expect(reportHtml).toContain('<h1>Replenish coffee</h1>');
    expect(reportHtml).not.toContain('id="trigger-form"');
  });

  it('tries a trigger on a customer in place: would send when, or why not; nothing written', async () => {
    const [customer] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email) values ('try-1', 'try@example.test') returning id`;
    await h.db.sql`
      insert into consents (customer_id, purpose, granted, source) values (${customer!.id}, 'marketing_email', true, 'test')`;
    await h.db.sql`
      insert into purchases (external_line_id, customer_id, order_ref, amount, purchased_at)
      values ('try-l1', ${customer!.id}, 'try-o1', 120, now() - interval '1 hour')`;
    const created = await post('/ui/triggers', {
      ...winBack(),
      name: 'Big order thanks',
      event: 'purchase',
      'params.days': '',
      filter: '{">=": [{"var": "event.amount"}, 100]}',
      'delay.at_local_hour': '',
      cancel_on_purchase: '',
    });
    const id = Number(/(\d+)\?saved=1$/.exec(created.headers.get('location')!)?.[1]);
    expect(await html(`/ui/triggers/${id}`)).toContain('Try it on a customer');
    const before = (await h.db.sql`select count(*)::int as n from messages`)[0]!.n;
    const yes = await (
      await post(`/ui/triggers/${id}/preview`, { _csrf: csrf, preview_customer_id: String(customer!.id) })
    ).text();
    expect(yes).toContain('data-fires="true"');
    expect(yes).toMatch(/Would send [^<]+/);
    expect(yes).toContain('&quot;amount&quot;: 120');
    const no = await (
      await post(`/ui/triggers/${id}/preview`, {
        _csrf: csrf,
        preview_customer_id: String(customer!.id),
        preview_event: '{"amount": 20}',
      })
    ).text();
    expect(no).toContain('data-fires="false"');
    expect(no).toContain('Would not send: filter.');
    const badJson = await (
      await post(`/ui/triggers/${id}/preview`, { _csrf: csrf, preview_customer_id: '1', preview_event: '{' })
    ).text();
    expect(badJson).toMatch(/<span class="error">event: not valid JSON/);
    const unknown = await (
      await post(`/ui/triggers/${id}/preview`, { _csrf: csrf, preview_customer_id: '999999' })
    ).text();
    expect(unknown).toContain('customer_id: no such customer');
    expect((await h.db.sql`select count(*)::int as n from messages`)[0]!.n).toBe(before);
  });

  it('sets the frequency cap, refusing a bad one at its field', async () => {
    const saved = await post('/ui/triggers/settings', { _csrf: csrf, max_messages: '2', days: '14' });
    expect(saved.status).toBe(303);
    expect(await json(await h.get('/v1/triggers/settings'))).toEqual({ max_messages: 2, days: 14 });
    const bad = await post('/ui/triggers/settings', { _csrf: csrf, max_messages: '2', days: '0' });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(/id="f-days-err">/);
    expect(await json(await h.get('/v1/triggers/settings'))).toEqual({ max_messages: 2, days: 14 });
    expect(await html('/ui/triggers')).toMatch(/id="f-max_messages"[^>]*value="2"/);
  });

  it('shows analysts the cap and reports without forms, and refuses their posts (403)', async () => {
    const analyst = (await signInToUi(h, 'analyst')).session;
    const list = await html('/ui/triggers', analyst);
    expect(list).toContain('id="cap"');
    expect(list).not.toContain('New trigger');
    expect(list).not.toContain('id="cap-form"');
    const before = await triggerCount();
    const refused = await post('/ui/triggers', { ...winBack() }, analyst);
    expect(refused.status).toBe(403);
    expect(await triggerCount()).toBe(before);
  });
});
