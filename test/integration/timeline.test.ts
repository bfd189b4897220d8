import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

describe('the curl flow: key → customer → purchases twice → timeline → interaction', () => {
  it('keeps one contact history, newest first, without duplicates', async () => {
    const key = await h.keyFor('integrator');
    const customer = await json(
      await h.post('/v1/customers', { external_id: 'flow-1', email: 'flow@example.com' }, { key }),
    );
    const lines = [
      {
        external_line_id: 'F-1',
        customer_external_id: 'flow-1',
        amount: 50,
        purchased_at: '2025-01-01T10:00:00Z',
        category: 'shoes',
      },
      {
        external_line_id: 'F-2',
        customer_external_id: 'flow-1',
        amount: 20,
        purchased_at: '2025-01-05T10:00:00Z',
        category: 'bags',
      },
    ];
    expect((await h.post('/v1/purchases', lines, { key })).status).toBe(201);
    expect((await h.post('/v1/purchases', lines, { key })).status).toBe(200);

    const note = await h.post(
      `/v1/customers/${customer.id}/interactions`,
      {
        kind: 'call',
        channel: 'phone',
        text: 'Wants the blue model in size 38',
        author: 'marie',
        at: '2025-01-03T09:00:00Z',
      },
      { role: 'sales' },
    );
    expect(note.status).toBe(201);
    expect(await json(note)).toMatchObject({
      kind: 'call',
      channel: 'phone',
      author: 'marie',
      customer_id: customer.id,
    });

    const timeline = await json(await h.get(`/v1/customers/${customer.id}/timeline`, { role: 'sales' }));
    expect(timeline.data.map((e: { kind: string; at: string }) => [e.kind, e.at])).toEqual([
      ['purchase', '2025-01-05T10:00:00.000Z'],
      ['call', '2025-01-03T09:00:00.000Z'],
      ['purchase', '2025-01-01T10:00:00.000Z'],
    ]);
    expect(timeline.data[0].data).toMatchObject({ amount: 20, category: 'bags' });
    expect(timeline.next_cursor).toBeNull();
  });
});

describe('GET /v1/customers/{id}/timeline', () => {
  it('pages by (at, id) even when events share a timestamp, and filters kinds', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'tl-2' }));
    const at = '2025-02-01T12:00:00Z';
    for (let i = 0; i < 5; i++) {
      await h.post(`/v1/customers/${id}/interactions`, {
        kind: i % 2 ? 'note' : 'visit',
        text: `n${i}`,
        author: 'a',
        at,
      });
    }
    const texts: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.get(`/v1/customers/${id}/timeline?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      const body = await json(res);
      texts.push(...body.data.map((e: { text: string }) => e.text));
      cursor = body.next_cursor;
    } while (cursor);
    expect(texts).toEqual(['n4', 'n3', 'n2', 'n1', 'n0']);

    const notes = await json(await h.get(`/v1/customers/${id}/timeline?kinds=note`));
    expect(notes.data.map((e: { text: string }) => e.text)).toEqual(['n3', 'n1']);
    expect((await h.get(`/v1/customers/${id}/timeline?kinds=Bad Kind`)).status).toBe(422);
    expect((await h.get(`/v1/customers/${id}/timeline?cursor=eyJ4IjoxfQ`)).status).toBe(400);
    expect((await h.get('/v1/customers/999999/timeline')).status).toBe(404);
  });

  it('rejects bad interactions and roles that may not write them', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'tl-3' }));
    const bad = await h.post(`/v1/customers/${id}/interactions`, { kind: 'gossip', text: 'x', author: 'a' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('kind');
    const future = new Date(Date.now() + 3600_000).toISOString();
    const later = await h.post(`/v1/customers/${id}/interactions`, {
      kind: 'note',
      text: 'x',
      author: 'a',
      at: future,
    });
    expect(later.status).toBe(422);
    const integrator = await h.post(
      `/v1/customers/${id}/interactions`,
      { kind: 'note', text: 'x', author: 'a' },
      {
        role: 'integrator',
      },
    );
    expect(integrator.status).toBe(403);
    expect(
      (await h.post('/v1/customers/999999/interactions', { kind: 'note', text: 'x', author: 'a' })).status,
    ).toBe(404);
  });
});

describe('POST /v1/customers/{id}/interactions with client_ref', () => {
  it('records a retried interaction once and answers the retry with the first event', async () => {
    const created = await h.post('/v1/customers', { external_id: 'idem-1', first_name: 'Iris' });
    const { id } = await json(created);
    const note = {
      kind: 'note',
      text: 'Typed offline in the car park',
      author: 'sam',
      client_ref: 'phone-7f3a',
    };
    const first = await h.post(`/v1/customers/${id}/interactions`, note);
    expect(first.status).toBe(201);
    const [again, concurrent] = await Promise.all([
      h.post(`/v1/customers/${id}/interactions`, note),
      h.post(`/v1/customers/${id}/interactions`, note),
    ]);
    expect([again.status, concurrent.status]).toEqual([200, 200]);
    const firstEvent = await json(first);
    expect((await json(again)).id).toBe(firstEvent.id);
    expect((await json(concurrent)).id).toBe(firstEvent.id);
    const other = await h.post(`/v1/customers/${id}/interactions`, { ...note, client_ref: 'phone-8b1c' });
    expect(other.status).toBe(201);
    const rows = await h.db.sql`
      select data ->> 'client_ref' as ref from contact_events where customer_id = ${id} and kind = 'note' order by id`;
    expect(rows.map((r) => r.ref)).toEqual(['phone-7f3a', 'phone-8b1c']);
  });
});
