import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentAudiencePage } from '../../src/segments/audience.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

const track = (over: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'cart_updated',
  userId: 'crm-1',
  properties: { cart_url: 'https://shop.example/cart/1', value: 12.5 },
  timestamp: '2026-01-10T10:00:00Z',
  messageId: `m-${Math.random()}`,
  context: { library: { name: 'analytics.js' } },
  integrations: {},
  sentAt: '2026-01-10T10:00:01Z',
  ...over,
});

describe('POST /v1/events', () => {
  it('stores a Segment-shaped batch once when it is posted twice; unknown customers become leads', async () => {
    const batch = [
      track({ messageId: 'seg-1', userId: 'crm-new' }),
      track({ messageId: 'seg-2', userId: 'crm-new', event: 'product_viewed', properties: { sku: 'A1' } }),
      track({ messageId: 'seg-3', email: 'Lead@Example.test', userId: undefined }),
    ];
    const first = await h.post('/v1/events', batch, { role: 'integrator' });
    expect(first.status).toBe(201);
    const body = await json(first);
    expect(body).toMatchObject({ created: 3, existing: 0, leads_created: 2 });
    const again = await h.post('/v1/events', batch, { role: 'integrator' });
    expect(again.status).toBe(200);
    const second = await json(again);
    expect(second).toMatchObject({ created: 0, existing: 3 });
    expect(second.data.map((d: { event_id: number }) => d.event_id)).toEqual(
      body.data.map((d: { event_id: number }) => d.event_id),
    );
    const counted = await h.db.sql`select count(*)::int as n from events where message_id like 'seg-%'`;
    expect(counted[0]!.n).toBe(3);
    const [lead] = await h.db.sql`select id, email from customers where external_id = 'crm-new'`;
    expect(lead).toBeTruthy();
    // A lead has no consent.
    expect(await h.db.sql`select 1 from consents where customer_id = ${lead!.id}`).toHaveLength(0);
    const [byEmail] = await h.db
      .sql`select external_id, email from customers where id = ${body.data[2].customer_id}`;
    expect(byEmail).toEqual({ external_id: 'email:lead@example.test', email: 'lead@example.test' });
    // On the contact history as `event`, with name and properties.
    const timeline = await json(await h.get(`/v1/customers/${lead!.id}/timeline?kinds=event`));
    expect(timeline.data).toHaveLength(2);
    expect(timeline.data[0]).toMatchObject({
      kind: 'event',
      data: { name: 'product_viewed', properties: { sku: 'A1' } },
    });
    // The history is read from the events table, not a copy: the export has them too, once each.
    expect(await h.db.sql`select 1 from contact_events where kind = 'event'`).toHaveLength(0);
    const exported = await json(await h.get(`/v1/customers/${lead!.id}/export`));
    expect(
      exported.contact_events
        .filter((e: { kind: string }) => e.kind === 'event')
        .map((e: { data: { name: string } }) => e.data.name)
        .sort(),
    ).toEqual(['cart_updated', 'product_viewed']);
    const events = await json(await h.get(`/v1/customers/${lead!.id}/events?name=cart_updated`));
    expect(events.data).toEqual([
      expect.objectContaining({ name: 'cart_updated', message_id: 'seg-1', at: '2026-01-10T10:00:00.000Z' }),
    ]);
  });

  it('takes one object, a Segment batch envelope, and NDJSON', async () => {
    const one = await h.post('/v1/events', track({ messageId: 'one-1' }));
    expect(one.status).toBe(201);
    const envelope = await h.post('/v1/events', {
      batch: [track({ messageId: 'env-1' })],
      sentAt: '2026-01-10T10:00:00Z',
    });
    expect(await json(envelope)).toMatchObject({ created: 1 });
    const ndjson = await h.request('POST', '/v1/events', {
      body: `${JSON.stringify(track({ messageId: 'nd-1' }))}\n\n${JSON.stringify(track({ messageId: 'nd-2' }))}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(await json(ndjson)).toMatchObject({ created: 2 });
  });

  it('stores any text as it was sent: names, message ids and properties with backslashes, tabs and line breaks', async () => {
    // Events are written with COPY, whose text format gives \\, tab and line breaks a meaning:
    // whatever strings a batch holds, they must come back unchanged.
    const piece = fc.constantFrom('\\', '\t', '\n', '\r', '\\N', '"', ',', 'é', 'a', ' ', '\\t', '🛒');
    const text = fc.array(piece, { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        text,
        text,
        fc.dictionary(text, fc.oneof(text, fc.integer())),
        async (name, id, properties) => {
          run++;
          const userId = `crm-copy-${run}`;
          const event = `copy ${name.trim() || 'x'}`.trim();
          const messageId = `copy-${run}-${id}`;
          const res = await h.post('/v1/events', [track({ userId, event, messageId, properties })], {
            role: 'integrator',
          });
          expect(res.status).toBe(201);
          const [stored] = await h.db
            .sql`select name, message_id, properties from events where message_id = ${messageId}`;
          expect(stored).toEqual({ name: event, message_id: messageId, properties });
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a messageId a concurrent request records first is answered existing, stored once', async () => {
    const messageId = `race-${Math.random()}`;
    const body = [track({ userId: 'crm-race', messageId }), track({ userId: 'crm-race' })];
    // The other request: it holds the key, not yet committed, while this batch is posted.
    const other = await h.db.sql.reserve();
    try {
      await other`begin`;
      await other`insert into customers (external_id) values ('crm-race-other') returning id`;
      const [row] = await other`select nextval('events_id_seq')::bigint as id`;
      const id = Number(row!.id);
      await other`insert into event_keys (message_id, event_id, at) values (${messageId}, ${id}, '2026-01-10T10:00:00Z')`;
      const posting = h.post('/v1/events', body, { role: 'integrator' });
      // Wait until the batch is blocked on that key, then let the other request commit.
      for (let i = 0; i < 500; i++) {
        const waiting = await h.db
          .sql`select 1 from pg_locks where not granted and locktype = 'transactionid'`;
        if (waiting.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await other`commit`;
      const res = await posting;
      expect(res.status).toBe(201);
      const answer = await json(res);
      expect(answer.data.map((d: { status: string }) => d.status)).toEqual(['existing', 'created']);
      expect(answer.data[0].event_id).toBe(id);
      expect(await h.db.sql`select 1 from event_keys where message_id = ${messageId}`).toHaveLength(1);
    } finally {
      other.release();
    }
  });

  it('refuses the whole batch with each bad row listed, writing nothing', async () => {
    const before = await h.db.sql`select count(*)::int as n from events`;
    const res = await h.post('/v1/events', [
      track({ messageId: 'bad-ok', userId: 'crm-never' }),
      track({ messageId: 'bad-1', event: '' }),
      { type: 'track', event: 'x', messageId: 'bad-2' },
      track({ messageId: 'bad-3', timestamp: 'yesterday' }),
      { type: 'shout' },
    ]);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(res);
    const paths = problem.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['1.event', '2.userId', '3.timestamp']));
    expect(new Set(problem.errors.map((e: { index: number }) => e.index))).toEqual(new Set([1, 2, 3, 4]));
    const after = await h.db.sql`select count(*)::int as n from events`;
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(await h.db.sql`select 1 from customers where external_id = 'crm-never'`).toHaveLength(0);
  });

  it('identify merges an anonymous id into the customer, with traits on the profile', async () => {
    await h.post('/v1/attributes', { key: 'loyalty_tier', type: 'string' });
    const anon = await json(
      await h.post('/v1/events', [
        track({ userId: undefined, anonymousId: 'anon-7', messageId: 'a-1', event: 'product_viewed' }),
        track({ userId: undefined, anonymousId: 'anon-7', messageId: 'a-2', event: 'cart_updated' }),
      ]),
    );
    const leadId = anon.data[0].customer_id;
    expect(anon.data[1].customer_id).toBe(leadId);
    const { id: known } = await json(
      await h.post('/v1/customers', { external_id: 'crm-known', email: 'k@example.test' }),
    );
    const identify = await h.post('/v1/events', {
      type: 'identify',
      userId: 'crm-known',
      anonymousId: 'anon-7',
      traits: { firstName: 'Kim', loyalty_tier: 'gold', unknownTrait: 1 },
      messageId: 'id-1',
    });
    expect(identify.status).toBe(200);
    expect(await json(identify)).toMatchObject({
      identified: 1,
      data: [{ status: 'identified', customer_id: known }],
    });
    const customer = await json(await h.get(`/v1/customers/${known}`));
    expect(customer).toMatchObject({ first_name: 'Kim', attributes: { loyalty_tier: 'gold' } });
    const events = await json(await h.get(`/v1/customers/${known}/events`));
    expect(events.data.map((e: { message_id: string }) => e.message_id).sort()).toEqual(['a-1', 'a-2']);
    expect(await h.db.sql`select 1 from customers where id = ${leadId}`).toHaveLength(0);
    // Later anonymous events go to the customer.
    const later = await json(
      await h.post('/v1/events', track({ userId: undefined, anonymousId: 'anon-7', messageId: 'a-3' })),
    );
    expect(later.data[0].customer_id).toBe(known);
    // A bad trait is a 422 naming it.
    const bad = await h.post('/v1/events', {
      type: 'identify',
      userId: 'crm-known',
      traits: { email: 'nope' },
    });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('0.traits.email');
  });

  it('lists event types with counts, last seen and properties; POST describes one', async () => {
    const list = await json(await h.get('/v1/event-types', { role: 'analyst' }));
    const cart = list.data.find((t: { name: string }) => t.name === 'cart_updated');
    expect(cart.count).toBeGreaterThanOrEqual(5);
    expect(cart.last_seen_at).toBe('2026-01-10T10:00:00.000Z');
    expect(cart.properties).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'cart_url', type: 'string', sensitive: false }),
      ]),
    );
    const described = await h.post('/v1/event-types', {
      name: 'cart_updated',
      description: 'The cart changed',
      properties: { cart_url: { type: 'string', sensitive: true } },
    });
    expect(described.status).toBe(200);
    expect(await json(described)).toMatchObject({
      declared: true,
      description: 'The cart changed',
      count: cart.count,
    });
    // The described property is replaced, the others seen are kept (an object, not a list).
    const after = await json(await h.get('/v1/event-types/cart_updated'));
    expect(after.properties.map((p: { name: string }) => p.name)).toEqual(
      cart.properties.map((p: { name: string }) => p.name),
    );
    expect(after.properties).toContainEqual(
      expect.objectContaining({ name: 'cart_url', type: 'string', sensitive: true }),
    );
    const created = await h.post('/v1/event-types', { name: 'checkout_started' });
    expect(created.status).toBe(201);
    expect(await json(await h.get('/v1/event-types/checkout_started'))).toMatchObject({
      count: 0,
      declared: true,
    });
    expect((await h.get('/v1/event-types/nope')).status).toBe(404);
    expect((await h.post('/v1/event-types', { name: 'x', properties: { a: { type: 'date' } } })).status).toBe(
      422,
    );
  });

  it('a segment on did_event matches the same customers in SQL and in process', async () => {
    const at = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString();
    await h.post('/v1/events', [
      track({ userId: 'seg-a', messageId: 's-a1', timestamp: at(2), properties: { value: 80 } }),
      track({ userId: 'seg-b', messageId: 's-b1', timestamp: at(2), properties: { value: 10 } }),
      track({ userId: 'seg-c', messageId: 's-c1', timestamp: at(40), properties: { value: 90 } }),
      track({ userId: 'seg-c', messageId: 's-c2', event: 'product_viewed', timestamp: at(1) }),
    ]);
    const rule = { did_event: ['cart_updated', 7, { '===': [{ var: 'value' }, 80] }] };
    const preview = await json(await h.post('/v1/segments/preview', { rule }));
    expect(preview).toMatchObject({ count: 1, evaluation: 'sql' });
    const { id } = await json(await h.post('/v1/segments', { name: 'Carts this week', rule }));
    const members = await json(await h.get(`/v1/segments/${id}/customers`));
    const [a] = await h.db.sql`select id from customers where external_id = 'seg-a'`;
    expect(members.data.map((m: { id: number }) => m.id)).toEqual([a!.id]);
    const now = new Date();
    for (const r of [
      rule,
      { did_event: ['cart_updated', 7] },
      { '>=': [{ event_count: ['cart_updated', 60] }, 1] },
    ]) {
      const inSql = await segmentAudiencePage(h.db.sql, r, { limit: 1000, now });
      const inProcess = await segmentAudiencePage(h.db.sql, r, { limit: 1000, now, evaluation: 'stream' });
      expect(inSql).toEqual(inProcess);
      expect(inSql.length).toBeGreaterThan(0);
    }
    // A bad did_event is refused when the segment is saved.
    const bad = await h.post('/v1/segments', { name: 'x', rule: { did_event: ['cart_updated'] } });
    expect(bad.status).toBe(422);
  });

  it('the rule field catalogue lists the event types and the event operators', async () => {
    const catalogue = await json(await h.get('/v1/rules/fields?scope=segment'));
    const names = catalogue.fields.find((f: { path: string }) => f.path === 'event_names');
    expect(names.values.map((v: { value: string }) => v.value)).toEqual(
      expect.arrayContaining(['cart_updated', 'product_viewed']),
    );
    expect(catalogue.operators.map((o: { op: string }) => o.op)).toEqual(
      expect.arrayContaining(['did_event', 'event_count']),
    );
  });
});
