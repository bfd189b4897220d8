import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { fireTriggerEvents } from '../../src/triggers/fire.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let anna: number;
beforeAll(async () => {
  h = await createHarness();
  const [c] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email, social_handles)
    values ('anna', 'anna@example.test', ${h.db.sql.json({ instagram: '@Anna.B', facebook: 'anna.facebook' })}) returning id`;
  anna = c!.id;
  await h.db
    .sql`insert into consents (customer_id, purpose, granted, source) values (${anna}, 'marketing_email', true, 'test')`;
});
afterAll(async () => h?.close());

const post = (body: Record<string, unknown>, role?: 'integrator' | 'analyst') =>
  h.post(
    '/v1/inbound/social',
    { channel: 'instagram', handle: '@anna.b', text: 'Hello!', ...body },
    role ? { role } : {},
  );

describe('social inbound', () => {
  it('matches a handle whatever its case and leading @, and lands on the contact history', async () => {
    const res = await post(
      { handle: 'ANNA.b', url: 'https://instagram.com/p/1', at: '2025-05-01T10:00:00Z' },
      'integrator',
    );
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ customer_id: anna, matched: true, lead_created: false });
    const [event] = await h.db
      .sql`select kind, channel, text, author, data, at from contact_events where id = ${body.event_id}`;
    expect(event).toMatchObject({
      kind: 'social',
      channel: 'instagram',
      text: 'Hello!',
      author: '@anna.b',
      data: { url: 'https://instagram.com/p/1' },
    });
    expect((event!.at as Date).toISOString()).toBe('2025-05-01T10:00:00.000Z');
    const timeline = await json(await h.get(`/v1/customers/${anna}/timeline`));
    expect(JSON.stringify(timeline)).toContain('Hello!');
    // Another channel's handle does not match this one.
    const other = await json(await post({ channel: 'tiktok' }));
    expect(other).toMatchObject({ matched: false, lead_created: true });
  });

  it('creates a lead for an unknown handle, once', async () => {
    const first = await json(await post({ channel: 'facebook', handle: '@Newbie' }));
    expect(first).toMatchObject({ matched: false, lead_created: true });
    const [lead] = await h.db
      .sql`select external_id, email, social_handles from customers where id = ${first.customer_id}`;
    expect(lead).toEqual({
      external_id: 'social:facebook:newbie',
      email: null,
      social_handles: { facebook: '@newbie' },
    });
    // The lead's handle now matches later messages.
    const second = await json(await post({ channel: 'facebook', handle: 'newbie', text: 'again' }));
    expect(second).toMatchObject({ customer_id: first.customer_id, matched: true, lead_created: false });
    const [{ n }] = (await h.db
      .sql`select count(*)::int as n from contact_events where customer_id = ${first.customer_id} and kind = 'social'`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(2);
  });

  it('fires a social_message trigger with the message in the event', async () => {
    await installDefaultTemplates(h.db.sql);
    const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
    const res = await h.post('/v1/triggers', {
      name: 'Reply within 2 hours',
      event: 'social_message',
      template_id: t!.id,
      delay: { hours: 2 },
      filter: { in: ['size', { var: 'event.text' }] },
    });
    expect(res.status).toBe(201);
    const trigger = (await json(res)).id;
    const asked = await json(await post({ text: 'Which size fits?' }));
    const chatted = await json(await post({ text: 'Nice!' }));
    // The route queued the events; fire them as the trigger worker would.
    const events = [asked, chatted].map((r) => ({
      event: 'social_message' as const,
      key: `social:${r.event_id}`,
      customer_id: anna,
      data: { text: r === asked ? 'Which size fits?' : 'Nice!' },
    }));
    const result = await fireTriggerEvents(
      { sql: h.db.sql, jobs: h.dispatcher, clock: () => new Date(), config: h.deps.config },
      events,
    );
    expect(result).toMatchObject({ queued: 1, skipped: 1 });
    const jobs = await h.dispatcher.queue('trigger').getJobs(['waiting', 'delayed', 'prioritized']);
    expect(jobs.flatMap((j) => j.data.events.map((e: { key: string }) => e.key))).toEqual(
      expect.arrayContaining([`social:${asked.event_id}`, `social:${chatted.event_id}`]),
    );
    const [m] = await h.db.sql`select status, customer_id from messages where trigger_id = ${trigger}`;
    expect(m).toMatchObject({ status: 'queued', customer_id: anna });
  });

  it('rejects bad input with 422 and other roles with 403, writing nothing', async () => {
    const [{ n: before }] = (await h.db.sql`select count(*)::int as n from contact_events`) as unknown as [
      { n: number },
    ];
    for (const [body, path] of [
      [{ handle: '@' }, 'handle'],
      [{ channel: 'Insta Gram' }, 'channel'],
      [{ url: 'not a url' }, 'url'],
      [{ at: 'yesterday' }, 'at'],
      [{ extra: 1 }, 'extra'],
    ] as const) {
      const res = await post(body as Record<string, unknown>);
      expect(res.status, path).toBe(422);
      expect((await json(res)).errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await post({}, 'analyst')).status).toBe(403);
    const [{ n: after }] = (await h.db.sql`select count(*)::int as n from contact_events`) as unknown as [
      { n: number },
    ];
    expect(after).toBe(before);
  });
});
