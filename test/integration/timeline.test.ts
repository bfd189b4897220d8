import fc from 'fast-check';
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

  it('pages over events, custom events and purchases sharing instants: every entry once, newest first', async () => {
    // Purchases and custom events are read from their own tables (their ids are other
    // sequences), so the position of a page is (at, source, id): at one instant custom events
    // come first, then contact events, then purchases.
    const instants = ['2025-03-01T08:00:00Z', '2025-03-02T08:00:00Z', '2025-03-03T08:00:00Z'];
    const entry = fc.record({
      source: fc.constantFrom('purchase', 'note', 'event'),
      instant: fc.integer({ min: 0, max: 2 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(entry, { maxLength: 9 }),
        fc.integer({ min: 1, max: 4 }),
        async (entries, limit) => {
          run++;
          const ext = `mix-${run}`;
          const { id } = await json(await h.post('/v1/customers', { external_id: ext }));
          const expected: Array<[string, string, string]> = [];
          for (const [i, e] of entries.entries()) {
            const at = instants[e.instant]!;
            if (e.source === 'purchase') {
              const line = {
                external_line_id: `${ext}-${i}`,
                customer_id: id,
                amount: i + 1,
                purchased_at: at,
              };
              expect((await h.post('/v1/purchases', line)).status).toBe(201);
              expect((await h.post('/v1/purchases', line)).status).toBe(200);
            } else if (e.source === 'event') {
              const event = {
                type: 'track',
                event: 'page_read',
                userId: ext,
                messageId: `${ext}-${i}`,
                timestamp: at,
                properties: { label: `${ext}-${i}` },
              };
              expect((await h.post('/v1/events', event)).status).toBe(201);
              expect((await h.post('/v1/events', event)).status).toBe(200);
            } else {
              const note = { kind: 'note', text: `${ext}-${i}`, author: 'a', at };
              expect((await h.post(`/v1/customers/${id}/interactions`, note)).status).toBe(201);
            }
            expected.push([at.replace('Z', '.000Z'), e.source, `${ext}-${i}`]);
          }
          // Newest first; at one instant custom events, notes, then purchases, each newest id first.
          expected.sort(
            (a, b) =>
              b[0].localeCompare(a[0]) ||
              a[1].localeCompare(b[1]) ||
              b[2].localeCompare(a[2], undefined, { numeric: true }),
          );
          const seen: Array<[string, string, string]> = [];
          let cursor: string | null = null;
          let pages = 0;
          do {
            const res = await h.get(
              `/v1/customers/${id}/timeline?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
            );
            expect(res.status).toBe(200);
            const body = await json(res);
            expect(body.data.length).toBeLessThanOrEqual(limit);
            for (const e of body.data) {
              const label =
                e.kind === 'purchase'
                  ? `${ext}-${e.data.amount - 1}`
                  : e.kind === 'event'
                    ? e.data.properties.label
                    : e.text;
              seen.push([e.at, e.kind, label]);
            }
            cursor = body.next_cursor;
            pages++;
          } while (cursor && pages < 20);
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('shows purchases only when the kinds asked for include them, with the line as data', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'tl-kinds' }));
    const line = {
      external_line_id: 'K-1',
      customer_id: id,
      order_ref: 'O-9',
      sku: 'SKU-1',
      category: 'shoes',
      quantity: 2,
      amount: 59.9,
      purchased_at: '2025-04-01T10:00:00Z',
    };
    const [purchase] = (await json(await h.post('/v1/purchases', line))).data;
    await h.post(`/v1/customers/${id}/interactions`, { kind: 'call', text: 'about K-1', author: 'a' });
    const calls = await json(await h.get(`/v1/customers/${id}/timeline?kinds=call`));
    expect(calls.data.map((e: { kind: string }) => e.kind)).toEqual(['call']);
    const both = await json(await h.get(`/v1/customers/${id}/timeline?kinds=purchase,call`));
    expect(both.data.map((e: { kind: string }) => e.kind)).toEqual(['call', 'purchase']);
    expect(both.data[1]).toEqual({
      id: purchase.id,
      customer_id: id,
      kind: 'purchase',
      channel: null,
      text: null,
      author: null,
      message_id: null,
      campaign_id: null,
      trigger_id: null,
      offer_id: null,
      purchase_id: purchase.id,
      machine: false,
      data: {
        order_ref: 'O-9',
        sku: 'SKU-1',
        category: 'shoes',
        quantity: 2,
        kind: 'purchase',
        amount: 59.9,
        currency: 'EUR',
        source: null,
      },
      at: '2025-04-01T10:00:00.000Z',
    });
    // Nothing is copied: the contact history table holds the call alone.
    const [copies] = await h.db.sql`select count(*)::int as n from contact_events where customer_id = ${id}`;
    expect(copies!.n).toBe(1);
    // A cursor issued before purchases had their own source still reads (as an event position).
    const old = Buffer.from(JSON.stringify({ at: '2025-04-01T10:00:00.000000Z', id: 1 })).toString(
      'base64url',
    );
    const rest = await json(await h.get(`/v1/customers/${id}/timeline?cursor=${old}`));
    expect(rest.data.map((e: { kind: string }) => e.kind)).toEqual(['purchase']);
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
