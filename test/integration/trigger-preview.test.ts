import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// POST /v1/triggers/{id}/preview: a dry run of a trigger for one customer and one event.
// Each case checks what the trigger worker would decide, and that nothing was written.

let h: Harness;
let templateId: number;
let buyer: number;
let noConsent: number;
let noPurchase: number;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
  await h.db.sql`
    insert into offers (name, title, priority, fallback)
    values ('free-delivery', 'Free delivery', 2, true), ('ten-off', '10 % off', 1, true)`;
  const ids = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email, timezone) values
      ('pv-buyer', 'buyer@example.test', 'Europe/Paris'),
      ('pv-noconsent', 'quiet@example.test', null),
      ('pv-nopurchase', 'new@example.test', null)
    returning id`;
  [buyer, noConsent, noPurchase] = ids.map((r) => r.id) as [number, number, number];
  await h.db.sql`
    insert into consents (customer_id, purpose, granted, source)
    values (${buyer}, 'marketing_email', true, 'test'), (${noPurchase}, 'marketing_email', true, 'test')`;
  // The buyer's latest order has two lines (80.00 in all); an older one had one.
  await h.db.sql`
    insert into purchases (external_line_id, customer_id, order_ref, category, amount, purchased_at) values
      ('pv-old', ${buyer}, 'o-old', 'books', 15, now() - interval '90 days'),
      ('pv-1', ${buyer}, 'o-new', 'coffee', 50, now() - interval '1 hour'),
      ('pv-2', ${buyer}, 'o-new', 'coffee', 30, now() - interval '1 hour'),
      ('pv-q', ${noConsent}, 'o-q', 'coffee', 90, now() - interval '2 days')`;
});
afterAll(async () => h.close());

async function trigger(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/triggers', { name: 'Preview', template_id: templateId, ...body });
  expect(res.status).toBe(201);
  return (await json(res)).id;
}
const preview = (id: number, body: Record<string, unknown>, role?: 'analyst') =>
  h.post(`/v1/triggers/${id}/preview`, body, role ? { role } : {});
const written = async () =>
  (
    await h.db.sql<{ firings: number; messages: number }[]>`
      select (select count(*)::int from trigger_firings) as firings, (select count(*)::int from messages) as messages`
  )[0]!;

describe('POST /v1/triggers/{id}/preview', () => {
  it('runs a purchase trigger on the customer’s latest order: fires, when and with which offers; writes nothing', async () => {
    const id = await trigger({
      event: 'purchase',
      filter: { '>=': [{ var: 'event.amount' }, 50] },
      delay: { hours: 20, at_local_hour: 9 },
      offers_per_email: 2,
    });
    const before = await written();
    const started = Date.now();
    const res = await preview(id, { customer_id: buyer });
    expect(res.status).toBe(200);
    const result = await json(res);
    expect(result).toMatchObject({
      fires: true,
      reasons: [],
      event_key: `order:${buyer}:o-new`,
      event: { type: 'purchase', amount: 80 },
      filter: { passed: true, error: null },
      already_fired: false,
      suppressed_reason: null,
      cap: { recent: 0, max_messages: 3, days: 7, capped: false },
    });
    expect(result.event.lines.map((l: { category: string; amount: number }) => l.amount).sort()).toEqual([
      30, 50,
    ]);
    expect(result.offers.map((o: { name: string }) => o.name)).toEqual(['free-delivery', 'ten-off']);
    // 20 hours on, then 09:00 in Paris.
    const sendAt = new Date(result.send_at);
    expect(sendAt.getTime()).toBeGreaterThanOrEqual(started + 20 * 3_600_000);
    expect(
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Paris',
        hour: '2-digit',
        minute: '2-digit',
      }).format(sendAt),
    ).toBe('09:00');
    expect(await written()).toEqual(before);
  });

  it('says why not: the filter on a given event, the same order fired already, consent, the cap, a switched-off trigger', async () => {
    const id = await trigger({ event: 'purchase', filter: { '>=': [{ var: 'event.amount' }, 50] } });
    const small = await json(await preview(id, { customer_id: buyer, event: { amount: 10 } }));
    expect(small).toMatchObject({
      fires: false,
      reasons: ['filter'],
      filter: { passed: false },
      event: { amount: 10 },
    });

    const { event_key } = await json(await preview(id, { customer_id: buyer }));
    await h.db.sql`
      insert into trigger_firings (trigger_id, event_key, customer_id, outcome)
      values (${id}, ${event_key}, ${buyer}, 'queued')`;
    expect(await json(await preview(id, { customer_id: buyer }))).toMatchObject({
      fires: false,
      reasons: ['already_fired'],
      already_fired: true,
    });

    expect(await json(await preview(id, { customer_id: noConsent }))).toMatchObject({
      fires: false,
      reasons: ['no_consent'],
      suppressed_reason: 'no_consent',
      event: { amount: 90 },
    });

    const welcome = await trigger({ event: 'customer_created' });
    expect((await json(await preview(welcome, { customer_id: noPurchase }))).fires).toBe(true);
    expect(
      (await h.request('PUT', '/v1/triggers/settings', { body: { max_messages: 1, days: 7 } })).status,
    ).toBe(200);
    await h.db.sql`
      insert into messages (trigger_id, customer_id, template_id, template_version, status, sent_at)
      values (${welcome}, ${noPurchase}, ${templateId}, 1, 'sent', now() - interval '1 day')`;
    expect(await json(await preview(welcome, { customer_id: noPurchase }))).toMatchObject({
      fires: false,
      reasons: ['capped'],
      cap: { recent: 1, max_messages: 1, days: 7, capped: true },
    });
    await h.request('PUT', '/v1/triggers/settings', { body: { max_messages: 3, days: 7 } });

    expect((await h.patch(`/v1/triggers/${welcome}`, { enabled: false })).status).toBe(200);
    expect((await json(await preview(welcome, { customer_id: noPurchase }))).reasons).toEqual(['disabled']);
  });

  it('refuses an unknown customer, a purchase trigger for someone who never bought, bad bodies, analysts', async () => {
    const id = await trigger({ event: 'purchase' });
    const unknown = await preview(id, { customer_id: 987654 });
    expect(unknown.status).toBe(422);
    expect((await json(unknown)).errors).toEqual([expect.objectContaining({ path: 'customer_id' })]);
    const never = await preview(id, { customer_id: noPurchase });
    expect(never.status).toBe(422);
    expect((await json(never)).errors).toEqual([
      expect.objectContaining({ path: 'event', message: expect.stringContaining('no purchase') }),
    ]);
    // With the event given, someone who never bought can be tried.
    expect((await json(await preview(id, { customer_id: noPurchase, event: { amount: 5 } }))).fires).toBe(
      true,
    );
    for (const body of [
      {},
      { customer_id: 'x' },
      { customer_id: buyer, event: [1] },
      { customer_id: buyer, extra: 1 },
    ]) {
      const res = await preview(id, body);
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await preview(987654, { customer_id: buyer })).status).toBe(404);
    expect((await preview(id, { customer_id: buyer }, 'analyst')).status).toBe(403);
  });
});
