import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// Every read of a person's data leaves an audit row naming the key and the customer: the
// customer's emails, a trigger's dry run for them, a template previewed with their profile (API
// and UI), and the UI's customer search. The rows hold ids and counts, never what was searched.

let h: Harness;
let id: number;
let templateId: number;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
  const res = await h.post('/v1/customers', {
    external_id: 'aud-1',
    email: 'ottoline.vantassel@example.test',
    first_name: 'Ottoline',
    last_name: 'Vantassel',
    consents: { marketing_email: true },
  });
  id = (await json(res)).id;
});
afterAll(async () => h.close());

/** Audit rows written since `mark` (an audit_log id). */
async function auditSince(mark: number) {
  return h.db.sql<
    { action: string; entity: string; customer_id: number | null; actor: string | null; data: object }[]
  >`select action, entity, customer_id, actor, data from audit_log where id > ${mark} order by id`;
}
const mark = async () =>
  (await h.db.sql<{ n: number }[]>`select coalesce(max(id), 0)::int as n from audit_log`)[0]!.n;

describe('reads of personal data are audited', () => {
  it('GET /v1/customers/{id}/messages', async () => {
    const before = await mark();
    const res = await h.get(`/v1/customers/${id}/messages?status=queued,sent`, { role: 'sales' });
    expect(res.status).toBe(200);
    expect(await auditSince(before)).toEqual([
      expect.objectContaining({ customer_id: id, actor: 'test-sales', entity: 'customer' }),
    ]);
  });

  it('POST /v1/triggers/{id}/preview', async () => {
    const created = await h.post('/v1/triggers', {
      name: 'Audit',
      template_id: templateId,
      event: 'customer_created',
    });
    expect(created.status).toBe(201);
    const trigger = (await json(created)).id;
    const before = await mark();
    const res = await h.post(`/v1/triggers/${trigger}/preview`, { customer_id: id }, { role: 'marketer' });
    expect(res.status).toBe(200);
    expect(await auditSince(before)).toEqual([
      expect.objectContaining({ customer_id: id, actor: 'test-marketer', entity: 'trigger' }),
    ]);
  });

  it('template previews for a customer, in the API and in the UI', async () => {
    let before = await mark();
    const api = await h.post(
      `/v1/templates/${templateId}/preview`,
      { customer_id: id },
      { role: 'marketer' },
    );
    expect(api.status).toBe(200);
    expect(await auditSince(before)).toEqual([
      expect.objectContaining({ customer_id: id, actor: 'test-marketer' }),
    ]);

    const ui = await signInToUi(h, 'marketer');
    before = await mark();
    const res = await h.app.request('/ui/templates/preview', {
      method: 'POST',
      headers: {
        cookie: ui.session,
        'x-csrf-token': ui.csrf,
        'hx-request': 'true',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        subject: 'Hello {{customer.first_name}}',
        mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{customer.first_name}}</mj-text></mj-column></mj-section></mj-body></mjml>',
        preview_customer_id: String(id),
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Ottoline');
    expect(await auditSince(before)).toEqual([
      expect.objectContaining({ customer_id: id, actor: 'test-marketer', entity: 'template' }),
    ]);
  });

  it('the UI customer search, without keeping what was searched', async () => {
    const ui = await signInToUi(h, 'sales');
    const before = await mark();
    const res = await h.app.request('/ui/customers?q=Vantassel', { headers: { cookie: ui.session } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('ottoline.vantassel@example.test');
    const rows = await auditSince(before);
    expect(rows).toEqual([
      expect.objectContaining({ action: 'customer.search', entity: 'customer', actor: 'test-sales' }),
    ]);
    expect(rows[0]!.data).toMatchObject({ count: 1, customer_ids: [id] });
    expect(JSON.stringify(rows[0])).not.toMatch(/vantassel/i);
  });
});
