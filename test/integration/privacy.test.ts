import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention } from '../../src/privacy/retention.js';
import { LINK } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const newCustomer = async (externalId: string, extra: Record<string, unknown> = {}) =>
  (
    await json(
      await h.post('/v1/customers', {
        external_id: externalId,
        email: `${externalId}@example.com`,
        ...extra,
      }),
    )
  ).id as number;

describe('attribute registry classes', () => {
  it('counts alcohol habits as health, names the purpose, and refuses special categories declared ordinary', async () => {
    const alcohol = await h.post('/v1/attributes', {
      key: 'drinks_weekly',
      type: 'number',
      sensitive: true,
      category: 'alcohol',
    });
    expect(alcohol.status).toBe(201);
    expect(await json(alcohol)).toMatchObject({
      sensitive: true,
      category: 'health',
      purpose: 'sensitive:health',
    });
    const hidden = await h.post('/v1/attributes', { key: 'faith', type: 'string', category: 'religion' });
    expect(hidden.status).toBe(422);
    expect((await json(hidden)).errors[0]).toMatchObject({ path: 'sensitive' });
    const vague = await h.post('/v1/attributes', {
      key: 'mood',
      type: 'string',
      sensitive: true,
      category: 'feelings',
    });
    expect(vague.status).toBe(422);
    expect((await json(vague)).errors[0]).toMatchObject({ path: 'category' });
    expect(await h.db.sql`select key from attributes where key in ('faith', 'mood')`).toHaveLength(0);
  });
});

describe('consent ledger', () => {
  it('appends grants and withdrawals with source, text version, IP and time; the latest per purpose rules', async () => {
    const id = await newCustomer('consent-1');
    const post = (body: Record<string, unknown>, ip?: string) =>
      h.post(`/v1/customers/${id}/consents`, body, ip ? { peer: ip } : {});
    expect(
      (
        await post(
          { purpose: 'marketing_email', granted: true, source: 'signup', text_version: 'v1' },
          '192.0.2.1',
        )
      ).status,
    ).toBe(201);
    expect(
      (await post({ purpose: 'sensitive:health', granted: true, source: 'survey', text_version: 'h2' }))
        .status,
    ).toBe(201);
    // Withdrawal is one call.
    expect((await post({ purpose: 'marketing_email', granted: false, source: 'call_center' })).status).toBe(
      201,
    );
    const bad = await post({ purpose: 'Marketing Email', granted: 'yes', source: '' });
    expect(bad.status).toBe(422);

    const history = await json(await h.get(`/v1/customers/${id}/consents`));
    expect(history.data.map((r: { purpose: string; granted: boolean }) => [r.purpose, r.granted])).toEqual([
      ['marketing_email', false],
      ['sensitive:health', true],
      ['marketing_email', true],
    ]);
    expect(history.data[2]).toMatchObject({ source: 'signup', text_version: 'v1', ip: '192.0.2.1' });
    expect(typeof history.data[2].at).toBe('string');
    expect(history.current).toMatchObject({
      marketing_email: { granted: false, source: 'call_center' },
      'sensitive:health': { granted: true },
    });
    const context = await json(await h.get(`/v1/customers/${id}/context`));
    expect(context.consents).toEqual(['sensitive:health']);
  });

  it('withdraws marketing email in one click on the unsubscribe page', async () => {
    const id = await newCustomer('consent-2', { consents: { marketing_email: true } });
    const [message] = await h.db.sql<{ id: number }[]>`
      insert into messages (customer_id, status, sent_at) values (${id}, 'sent', now()) returning id`;
    const token = signToken(h.deps.config.OFFERFLOW_SECRET, 'unsubscribe', {
      messageId: message!.id,
      linkIndex: LINK.unsubscribe,
    });
    const res = await h.request('POST', `/u/${token}`, {
      role: null,
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    const history = await json(await h.get(`/v1/customers/${id}/consents`));
    expect(history.current.marketing_email).toMatchObject({ granted: false, source: 'one_click' });
    expect(history.data).toHaveLength(2);
  });
});

describe('audit log', () => {
  it('records reads and changes of personal data with the key, and lists them for admins only', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const id = await newCustomer('audit-1');
    await h.get(`/v1/customers/${id}`, { role: 'sales' });
    await h.get(`/v1/customers/${id}/context`, { role: 'marketer' });
    await h.get(`/v1/customers/${id}/export`);
    await h.patch(`/v1/customers/${id}`, { first_name: 'Ines' });

    const res = await h.get(`/v1/audit?customer_id=${id}&since=${encodeURIComponent(since)}`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.data.map((e: { action: string }) => e.action)).toEqual([
      'customer.update',
      'customer.export',
      'customer.context',
      'customer.read',
      'customer.create',
    ]);
    const read = body.data.find((e: { action: string }) => e.action === 'customer.read');
    expect(read).toMatchObject({
      actor: 'test-sales',
      entity: 'customer',
      entity_id: String(id),
      customer_id: id,
    });
    expect(typeof read.api_key_id).toBe('number');
    // Changes name fields, never values.
    expect(JSON.stringify(body.data)).not.toContain('Ines');

    // Cursor paging, newest first, no overlap.
    const first = await json(await h.get(`/v1/audit?customer_id=${id}&limit=2`));
    expect(first.data).toHaveLength(2);
    const second = await json(await h.get(`/v1/audit?customer_id=${id}&limit=2&cursor=${first.next_cursor}`));
    expect(second.data[0].id).toBeLessThan(first.data[1].id);

    const byEntity = await json(await h.get('/v1/audit?entity=attribute'));
    expect(byEntity.data.every((e: { entity: string }) => e.entity === 'attribute')).toBe(true);
    expect((await h.get('/v1/audit', { role: 'marketer' })).status).toBe(403);
    expect((await h.get('/v1/audit', { role: null })).status).toBe(401);
    expect((await h.get('/v1/audit?cursor=nope')).status).toBe(400);
    expect((await h.get('/v1/audit?since=yesterday')).status).toBe(422);
  });
});

describe('export', () => {
  it('is admin-only and 404s for an unknown customer', async () => {
    const id = await newCustomer('export-1');
    expect((await h.get(`/v1/customers/${id}/export`, { role: 'sales' })).status).toBe(403);
    expect((await h.get('/v1/customers/999999/export')).status).toBe(404);
  });
});

describe('retention', () => {
  it('pseudonymizes old contact events and flags inactive customers, idempotently', async () => {
    const sql = h.db.sql;
    const now = new Date('2030-01-01T00:00:00Z');
    const old = new Date('2027-01-01T00:00:00Z');
    const id = await newCustomer('retain-1');
    const fresh = await newCustomer('retain-2');
    await sql`update customers set updated_at = ${old} where id = ${id}`;
    await sql`
      insert into contact_events (customer_id, kind, text, author, data, at) values
        (${id}, 'note', 'old secret', 'marie', ${sql.json({ revenue: 5, phone: '+33 6' })}, ${old}),
        (${fresh}, 'note', 'recent', 'marie', '{}', ${new Date('2029-12-01T00:00:00Z')})`;
    await sql`update customers set updated_at = ${new Date('2029-12-01T00:00:00Z')} where id = ${fresh}`;
    await sql`delete from contact_events where customer_id = ${id} and kind <> 'note'`;
    const config = { RETENTION_EVENTS_DAYS: 365, RETENTION_INACTIVE_DAYS: 365 };
    const first = await applyRetention(sql, config, now);
    expect(first.events_pseudonymized).toBeGreaterThanOrEqual(1);
    const [event] =
      await sql`select text, author, data from contact_events where customer_id = ${id} and kind = 'note'`;
    expect(event).toEqual({ text: null, author: null, data: { revenue: 5 } });
    const [recent] =
      await sql`select text from contact_events where customer_id = ${fresh} and kind = 'note'`;
    expect(recent!.text).toBe('recent');
    const flags =
      await sql`select id, inactive_at is not null as inactive from customers where id in (${id}, ${fresh}) order by id`;
    expect(flags.map((f) => f.inactive)).toEqual([true, false]);
    expect(await applyRetention(sql, config, now)).toEqual({
      events_pseudonymized: 0,
      customers_flagged: 0,
      customers_unflagged: 0,
    });
    expect(await applyRetention(sql, { RETENTION_EVENTS_DAYS: 0, RETENTION_INACTIVE_DAYS: 0 }, now)).toEqual({
      events_pseudonymized: 0,
      customers_flagged: 0,
      customers_unflagged: 0,
    });
  });
});
