import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import type { App } from '../../src/http/env.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { columnsMentioning } from '../helpers/db-scan.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Erasure leaves nothing of the person in any table, along each path personal data took in:
// the free text of a consent's source and text version (and the audit row that recorded it),
// social messages that arrived before the handle was on the profile (a separate lead
// customer), and trigger events not yet handed to the queue. Export shows all of it first.
// After each erasure the whole database is scanned for the person's values.

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const erase = async (id: number) => expect((await h.delete(`/v1/customers/${id}`)).status).toBe(204);
const exportOf = async (id: number) => {
  const res = await h.get(`/v1/customers/${id}/export`);
  expect(res.status).toBe(200);
  return json(res);
};

describe('erasure covers every path personal data came in by', () => {
  it('the free text of consent source and text version, and the audit log that recorded the consent', async () => {
    const needles = ['Quintessa', 'Brindlemoor', 'quintessa.b@example.net'];
    const { id } = await json(
      await h.post('/v1/customers', { external_id: 'erp-q1', email: 'quintessa.b@example.net' }),
    );
    const consent = await h.post(`/v1/customers/${id}/consents`, {
      purpose: 'marketing_email',
      granted: true,
      source: 'phone call with Quintessa Brindlemoor (quintessa.b@example.net)',
      text_version: 'read aloud to Quintessa, v2',
    });
    expect(consent.status).toBe(201);
    // The audit row names the fields; the values are nowhere in it.
    const [row] = await h.db
      .sql`select data from audit_log where action = 'consent.create' and customer_id = ${id}`;
    expect(row!.data).toEqual({
      purpose: 'marketing_email',
      granted: true,
      fields: ['source', 'text_version'],
    });

    const doc = await exportOf(id);
    expect(doc.consents[0]).toMatchObject({ source: expect.stringContaining('Brindlemoor') });
    expect(doc.erasure.clears.consents).toEqual(expect.arrayContaining(['ip', 'source', 'text_version']));
    expect(await columnsMentioning(h.db.sql, needles)).not.toEqual([]);

    await erase(id);
    expect(await columnsMentioning(h.db.sql, needles)).toEqual([]);
    // The decision itself stays as proof: purpose, grant, time.
    const [kept] = await h.db
      .sql`select purpose, granted, source, text_version, at from consents where customer_id = ${id}`;
    expect(kept).toMatchObject({
      purpose: 'marketing_email',
      granted: true,
      source: 'erased',
      text_version: null,
    });
  });

  it('social messages that arrived before the handle was on the profile (the lead customer)', async () => {
    const needles = ['Philippa Oakenshott', 'oakenshott_p', 'Vortigan', 'philippa.o@example.net'];
    const early = await h.post(
      '/v1/inbound/social',
      {
        channel: 'instagram',
        handle: '@oakenshott_p',
        text: 'Hi, Philippa Oakenshott here: is my Vortigan lamp shipped?',
      },
      { role: 'integrator' },
    );
    expect(early.status).toBe(201);
    const lead = (await json(early)).customer_id;
    const { id } = await json(
      await h.post('/v1/customers', {
        external_id: 'erp-p1',
        email: 'philippa.o@example.net',
        first_name: 'Philippa',
        last_name: 'Oakenshott',
      }),
    );
    // The handle reaches the profile later (in another case and with an @), and a later message matches.
    expect(
      (await h.patch(`/v1/customers/${id}`, { social_handles: { instagram: 'Oakenshott_P' } })).status,
    ).toBe(200);
    const later = await h.post(
      '/v1/inbound/social',
      { channel: 'instagram', handle: 'oakenshott_p', text: 'The Vortigan lamp arrived, thanks' },
      { role: 'integrator' },
    );
    expect((await json(later)).customer_id).toBe(id);

    const doc = await exportOf(id);
    expect(doc.linked_leads).toHaveLength(1);
    expect(doc.linked_leads[0].customer.id).toBe(lead);
    expect(doc.linked_leads[0].contact_events[0].text).toContain('Philippa Oakenshott');

    await erase(id);
    expect(await columnsMentioning(h.db.sql, needles)).toEqual([]);
    const [leadRow] = await h.db.sql`select erased_at, external_id from customers where id = ${lead}`;
    expect(leadRow!.erased_at).not.toBeNull();
    expect(leadRow!.external_id).toBe(`erased:${lead}`);
    const audited = await h.db.sql`
      select customer_id, data from audit_log where action = 'customer.erase' and customer_id in (${id}, ${lead})`;
    expect(audited).toHaveLength(2);
  });

  it('trigger events still waiting in the outbox (no queue reachable, as at the edge)', async () => {
    const needles = ['Rosalind Quarrington', 'quarrington_r'];
    await installDefaultTemplates(h.db.sql);
    const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
    expect(
      (await h.post('/v1/triggers', { name: 'Social reply', template_id: t!.id, event: 'social_message' }))
        .status,
    ).toBe(201);
    // The same app without a queue: committed trigger events wait in trigger_outbox.
    const edge: App = createApp({ ...h.deps, jobs: undefined });
    const res = await edge.request('/v1/inbound/social', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.keyFor('integrator')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        channel: 'x',
        handle: '@quarrington_r',
        text: 'Rosalind Quarrington asking about returns',
      }),
    });
    expect(res.status).toBe(201);
    const lead = (await json(res)).customer_id;
    expect(await columnsMentioning(h.db.sql, needles)).toContain('trigger_outbox.events');

    await erase(lead);
    expect(await columnsMentioning(h.db.sql, needles)).toEqual([]);
  });
});
