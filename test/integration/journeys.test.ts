import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// Journeys through HTTP with the real worker roles (trigger, journey, sender, reconciler) and an
// SMTP sink: abandoned cart, a branch on spend, a 50/50 split with a holdout, a goal exiting a
// customer mid-wait, pause holding everyone, versions, and the per-step report matching.

let h: Harness;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
let templateId: number;
let serial = 0;

beforeAll(async () => {
  h = await createHarness();
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: WORKER_ROLES,
    env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '300', WORKER_LOCK_MS: '5000' },
    logger: h.deps.logger,
  });
  const template = await json(
    await h.post('/v1/templates', {
      name: 'Journey mail',
      subject: 'Hello {{customer.first_name}}',
      mjml: `<mjml><mj-body><mj-section><mj-column>
        <mj-text>Hi {{customer.first_name}}</mj-text>
        <mj-text><a href="{{unsubscribe_url}}">Unsubscribe</a></mj-text>
      </mj-column></mj-section></mj-body></mjml>`,
    }),
  );
  templateId = template.id;
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

async function customer(name: string): Promise<{ id: number; external_id: string; email: string }> {
  serial += 1;
  const external = `${name}-${serial}`;
  const email = `${external}@example.test`;
  const res = await h.post('/v1/customers', {
    external_id: external,
    email,
    first_name: name,
    consents: { marketing_email: true },
  });
  expect(res.status).toBe(201);
  return { id: (await json(res)).id, external_id: external, email };
}

const track = (external: string, event: string, properties: Record<string, unknown> = {}) =>
  h.post(
    '/v1/events',
    { type: 'track', event, userId: external, messageId: `m-${++serial}`, properties },
    { role: 'integrator' },
  );

async function journey(body: Record<string, unknown>): Promise<number> {
  const res = await h.post('/v1/journeys', body);
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  const created = await json(res);
  expect(created.status).toBe('draft');
  const active = await h.post(`/v1/journeys/${created.id}/activate`);
  expect(active.status).toBe(200);
  expect((await json(active)).status).toBe('active');
  return created.id;
}

const mailsTo = async (email: string) =>
  (await Promise.all(sink.messages.map((raw) => simpleParser(raw)))).filter(
    (m) => m.to && JSON.stringify(m.to).includes(email),
  );

const entryOf = async (journeyId: number, customerId: number) => {
  const [row] = await h.db.sql<{ status: string; step: string; exit_reason: string | null }[]>`
    select status, step, exit_reason from journey_entries where journey_id = ${journeyId} and customer_id = ${customerId}
    order by id desc limit 1`;
  return row;
};

const countJourneys = async () => {
  const [row] = await h.db.sql`select count(*)::int as n from journeys`;
  return row!.n as number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('journey definitions', () => {
  it('refuses bad definitions with 422 naming the step and the field, and stores nothing', async () => {
    const base = {
      name: 'Bad',
      entry: { event: 'cart_updated' },
      start: 'a',
      steps: [
        { id: 'a', type: 'wait', seconds: 1, next: 'b' },
        { id: 'b', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    };
    const cases: [unknown, string][] = [
      [
        { ...base, steps: [base.steps[0], { ...base.steps[1], next: 'nowhere' }, base.steps[2]] },
        'steps.1.next',
      ],
      [{ ...base, steps: [...base.steps, { id: 'lost', type: 'exit' }] }, 'steps.3.id'],
      [
        {
          ...base,
          start: 'x',
          steps: [
            { id: 'x', type: 'update_attribute', key: 'k', value: 1, next: 'y' },
            { id: 'y', type: 'branch', rule: { '==': [1, 1] }, then: 'x', else: 'end' },
            { id: 'end', type: 'exit' },
          ],
        },
        'steps.1.then',
      ],
      [
        {
          ...base,
          steps: [{ id: 'a', type: 'branch', rule: { nope: [] }, then: 'end', else: 'end' }, base.steps[2]],
        },
        'steps.0.rule',
      ],
      [{ ...base, steps: [{ id: 'a', type: 'teleport', next: 'end' }, base.steps[2]] }, 'steps.0.type'],
      [
        { ...base, steps: [{ ...base.steps[0], seconds: 0 }, base.steps[1], base.steps[2]] },
        'steps.0.seconds',
      ],
      [
        { ...base, steps: [base.steps[0], { ...base.steps[1], template_id: 999999 }, base.steps[2]] },
        'steps.1.template_id',
      ],
    ];
    const before = await countJourneys();
    for (const [body, path] of cases) {
      const res = await h.post('/v1/journeys', body);
      expect(res.status, path).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = await json(res);
      expect(
        problem.errors.map((e: { path: string }) => e.path).some((p: string) => p.startsWith(path)),
        JSON.stringify(problem),
      ).toBe(true);
    }
    expect(await countJourneys()).toBe(before);
  });

  it('lists, reads, edits into versions and archives; the lifecycle refuses what it cannot do', async () => {
    const id = await journey({
      name: 'Versions',
      entry: { event: 'versioned' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 4, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const inside = await customer('early');
    expect((await track(inside.external_id, 'versioned')).status).toBe(201);
    await until(async () => (await entryOf(id, inside.id))?.step === 'wait');
    const patched = await h.patch(`/v1/journeys/${id}`, {
      steps: [
        { id: 'wait', type: 'wait', seconds: 1, next: 'mark' },
        { id: 'mark', type: 'update_attribute', key: 'vip', value: true, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(patched.status).toBe(422); // the attribute is not declared
    expect(JSON.stringify(await json(patched))).toContain('steps.1.key');
    expect((await h.post('/v1/attributes', { key: 'vip', type: 'boolean' })).status).toBe(201);
    const v2 = await h.patch(`/v1/journeys/${id}`, {
      steps: [
        { id: 'wait', type: 'wait', seconds: 1, next: 'mark' },
        { id: 'mark', type: 'update_attribute', key: 'vip', value: true, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(v2.status).toBe(200);
    expect((await json(v2)).version).toBe(2);
    const late = await customer('late');
    await track(late.external_id, 'versioned');
    await until(async () => (await entryOf(id, late.id))?.status === 'completed');
    const [lateRow] = await h.db.sql`select attributes from customers where id = ${late.id}`;
    expect(lateRow!.attributes.vip).toBe(true);
    // The early customer finishes on version 1: no attribute step there.
    await until(async () => (await entryOf(id, inside.id))?.status === 'completed');
    const [earlyRow] = await h.db.sql`select attributes from customers where id = ${inside.id}`;
    expect(earlyRow!.attributes.vip).toBeUndefined();
    const v1Report = await json(await h.get(`/v1/journeys/${id}/report?version=1`));
    expect(v1Report.entered).toBe(1);
    expect(v1Report.steps.mark).toBeUndefined();
    const v2Report = await json(await h.get(`/v1/journeys/${id}/report?version=2`));
    expect(v2Report.steps.mark.entered).toBe(1);

    expect((await h.post(`/v1/journeys/${id}/activate`)).status).toBe(409);
    expect((await h.post(`/v1/journeys/${id}/resume`)).status).toBe(409);
    const list = await json(await h.get('/v1/journeys?status=active'));
    expect(list.data.some((j: { id: number }) => j.id === id)).toBe(true);
    expect((await h.post(`/v1/journeys/${id}/archive`)).status).toBe(200);
    expect((await h.patch(`/v1/journeys/${id}`, { name: 'x' })).status).toBe(409);
    expect((await h.delete(`/v1/journeys/${id}`)).status).toBe(204);
    expect((await h.get(`/v1/journeys/${id}`)).status).toBe(404);
  });
});

describe('journeys running', () => {
  it('abandoned cart: A orders within the wait and gets nothing, B does not and gets one mail', async () => {
    const id = await journey({
      name: 'Abandoned cart',
      entry: { event: 'cart_updated' },
      re_entry: 'after_exit',
      start: 'wait_order',
      steps: [
        {
          id: 'wait_order',
          type: 'wait_for_event',
          event: 'purchase',
          timeout_seconds: 3,
          on_event: 'bought',
          on_timeout: 'remind',
        },
        {
          id: 'remind',
          type: 'send_email',
          template_id: templateId,
          subject: 'Your cart of {{event.properties.value}}, {{customer.first_name}}',
          next: 'end',
        },
        { id: 'bought', type: 'exit' },
        { id: 'end', type: 'exit' },
      ],
    });
    const a = await customer('Ann');
    const b = await customer('Bob');
    expect((await track(a.external_id, 'cart_updated', { value: 40 })).status).toBe(201);
    expect((await track(b.external_id, 'cart_updated', { value: 50 })).status).toBe(201);
    await until(async () => (await entryOf(id, a.id))?.step === 'wait_order');
    const bought = await h.post('/v1/purchases', {
      external_line_id: `line-${a.id}`,
      customer_id: a.id,
      order_ref: `o-${a.id}`,
      amount: 40,
      purchased_at: new Date().toISOString(),
    });
    expect(bought.status).toBe(201);
    await until(async () => (await entryOf(id, a.id))?.status === 'completed');
    expect((await entryOf(id, a.id))!.step).toBe('bought');
    await until(async () => (await mailsTo(b.email)).length >= 1);
    const mails = await mailsTo(b.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Your cart of 50, Bob');
    expect(mails[0]!.headers.get('x-offerflow-journey')).toBe(String(id));
    expect(await mailsTo(a.email)).toHaveLength(0);

    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report.entered).toBe(2);
    expect(report.steps.wait_order.outcomes).toEqual({ on_event: 1, on_timeout: 1 });
    expect(report.steps.remind).toMatchObject({ entered: 1, sent: 1 });
    expect(report.steps.bought.entered).toBe(1);
    // Every transition is on the contact history.
    const steps = await h.db.sql`
      select data ->> 'step' as step from contact_events where customer_id = ${b.id} and kind = 'journey_step' order by id`;
    expect(steps.map((s) => s.step)).toEqual(['wait_order', 'remind', 'end']);
    const mine = await json(await h.get(`/v1/customers/${b.id}/journeys`));
    expect(mine.data[0]).toMatchObject({ journey_id: id, status: 'completed', step: 'end' });
  });

  it('branches on spend', async () => {
    const vipTemplate = await json(
      await h.post('/v1/templates', {
        name: 'VIP',
        subject: 'For our best customers',
        mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>VIP</mj-text></mj-column></mj-section></mj-body></mjml>',
      }),
    );
    const id = await journey({
      name: 'Spend',
      entry: { event: 'visited' },
      start: 'spend',
      steps: [
        {
          id: 'spend',
          type: 'branch',
          rule: { '>=': [{ var: 'customer.total_spent' }, 100] },
          then: 'vip',
          else: 'std',
        },
        { id: 'vip', type: 'send_email', template_id: vipTemplate.id, next: 'end' },
        { id: 'std', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const big = await customer('Big');
    const small = await customer('Small');
    await h.post('/v1/purchases', {
      external_line_id: `spend-${big.id}`,
      customer_id: big.id,
      amount: 250,
      purchased_at: new Date(Date.now() - 86_400_000).toISOString(),
    });
    const preview = await json(await h.post(`/v1/journeys/${id}/preview`, { customer_id: big.id }));
    expect(preview.would_enter).toBe(true);
    expect(preview.path.map((p: { step: string }) => p.step)).toEqual(['spend', 'vip', 'end']);
    const [entries] = await h.db.sql`select count(*)::int as n from journey_entries where journey_id = ${id}`;
    expect(entries!.n).toBe(0); // the dry run wrote nothing
    await track(big.external_id, 'visited');
    await track(small.external_id, 'visited');
    await until(
      async () => (await mailsTo(big.email)).length >= 1 && (await mailsTo(small.email)).length >= 1,
    );
    expect((await mailsTo(big.email))[0]!.subject).toBe('For our best customers');
    expect((await mailsTo(small.email))[0]!.subject).toBe('Hello Small');
    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report.steps.spend.outcomes).toEqual({ then: 1, else: 1 });
    expect(report.steps.vip.sent).toBe(1);
    expect(report.steps.std.sent).toBe(1);
  });

  it('splits 50/50 with a holdout path, the same way for the same customer, and the report matches', async () => {
    const id = await journey({
      name: 'Split',
      entry: { event: 'split_me' },
      start: 'ab',
      steps: [
        {
          id: 'ab',
          type: 'split',
          paths: [
            { weight: 50, next: 'mail' },
            { weight: 50, next: 'control', holdout: true },
          ],
        },
        { id: 'mail', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'control', type: 'exit' },
        { id: 'end', type: 'exit' },
      ],
    });
    const people = [];
    for (let i = 0; i < 16; i++) people.push(await customer(`split${i}`));
    for (const p of people) await track(p.external_id, 'split_me');
    await until(async () => {
      const [row] = await h.db.sql`
        select count(*)::int as n from journey_entries where journey_id = ${id} and status = 'completed'`;
      return row!.n === people.length;
    });
    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    const mailed = report.steps.ab.outcomes.path_0 ?? 0;
    const held = report.steps.ab.outcomes.holdout ?? 0;
    expect(mailed + held).toBe(16);
    expect(mailed).toBeGreaterThan(0);
    expect(held).toBeGreaterThan(0);
    expect(report.steps.mail.entered).toBe(mailed);
    expect(report.steps.control.entered).toBe(held);
    await until(async () => {
      const [row] = await h.db.sql`
        select count(*)::int as n from messages where journey_id = ${id} and status = 'sent'`;
      return row!.n === mailed;
    });
    expect((await json(await h.get(`/v1/journeys/${id}/report`))).steps.mail.sent).toBe(mailed);
    // The held-out customers got nothing; the path is the dry run's too.
    for (const p of people) {
      const entry = await entryOf(id, p.id);
      const mails = await mailsTo(p.email);
      expect(mails.length).toBe(entry!.step === 'end' ? 1 : 0);
      const preview = await json(await h.post(`/v1/journeys/${id}/preview`, { customer_id: p.id }));
      expect(preview.reasons).toEqual(['re_entry']);
      expect(preview.path[1].step).toBe(entry!.step === 'end' ? 'mail' : 'control');
    }
  });

  it('a goal exits the customer at once mid-wait, counted as a conversion; nothing is sent', async () => {
    const id = await journey({
      name: 'Goal',
      entry: { event: 'signed_up' },
      goal: { event: 'subscribed' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 3600, next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const c = await customer('Gail');
    await track(c.external_id, 'signed_up');
    // Arrived at the wait: due in an hour.
    const waiting = await until(async () => {
      const mine = await json(await h.get(`/v1/customers/${c.id}/journeys`));
      const due = mine.data[0]?.next_run_at;
      return due && new Date(due).getTime() > Date.now() + 3000_000 && mine;
    });
    expect(waiting.data[0]).toMatchObject({ status: 'active', step: 'wait', journey_id: id });
    await track(c.external_id, 'subscribed');
    await until(async () => (await entryOf(id, c.id))?.status === 'goal');
    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report).toMatchObject({ goal_reached: 1, conversions: 1, active: 0 });
    expect(report.steps.wait).toMatchObject({ entered: 1, waiting: 0, goal_reached: 1 });
    expect(report.steps.mail.entered).toBe(0);
  });

  it('pausing holds everyone where they are; resuming moves them on', async () => {
    const id = await journey({
      name: 'Pause',
      entry: { event: 'paused_flow' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 1, next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const c = await customer('Paula');
    await track(c.external_id, 'paused_flow');
    await until(async () => (await entryOf(id, c.id))?.step === 'wait');
    expect((await h.post(`/v1/journeys/${id}/pause`)).status).toBe(200);
    await sleep(2500);
    expect((await entryOf(id, c.id))!).toMatchObject({ status: 'active', step: 'wait' });
    expect(await mailsTo(c.email)).toHaveLength(0);
    // Nobody enters a paused journey either.
    const other = await customer('Otto');
    await track(other.external_id, 'paused_flow');
    await sleep(500);
    expect(await entryOf(id, other.id)).toBeUndefined();
    expect((await h.post(`/v1/journeys/${id}/resume`)).status).toBe(200);
    await until(async () => (await mailsTo(c.email)).length >= 1);
    await until(async () => (await entryOf(id, c.id))?.status === 'completed');
  });

  it('unsubscribing ends a customer’s journeys', async () => {
    const id = await journey({
      name: 'Unsubscribe',
      entry: { event: 'long_flow' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 3600, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const c = await customer('Uma');
    await track(c.external_id, 'long_flow');
    await until(async () => (await entryOf(id, c.id))?.step === 'wait');
    await h.post(`/v1/customers/${c.id}/consents`, {
      purpose: 'marketing_email',
      granted: false,
      source: 'test',
    });
    await until(async () => (await entryOf(id, c.id))?.status === 'exited');
    expect((await entryOf(id, c.id))!.exit_reason).toBe('unsubscribed');
  });
});

describe('journeys under failure', () => {
  it('a wait whose job Redis lost still ends, once: the reconciler re-creates the due step', async () => {
    const id = await journey({
      name: 'Wiped',
      entry: { event: 'wiped_flow' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 2, next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const c = await customer('Wanda');
    await track(c.external_id, 'wiped_flow');
    await until(async () => (await entryOf(id, c.id))?.step === 'wait');
    // Redis loses the delayed job (this test's queue prefix only: other suites share the server).
    const redis = h.deps.redis!;
    const keys = await redis.keys(`${h.queuePrefix}:journey:*`);
    if (keys.length > 0) await redis.del(...keys);
    await until(async () => (await entryOf(id, c.id))?.status === 'completed');
    await until(async () => (await mailsTo(c.email)).length >= 1);
    const runs = await h.db.sql`
      select r.step, count(*)::int as n from journey_step_runs r join journey_entries e on e.id = r.entry_id
      where e.journey_id = ${id} group by r.step order by r.step`;
    expect(runs).toEqual([
      { step: 'end', n: 1 },
      { step: 'mail', n: 1 },
      { step: 'wait', n: 1 },
    ]);
    expect(await mailsTo(c.email)).toHaveLength(1);
  });

  it('the same due step handed over many times at once runs once', async () => {
    const id = await journey({
      name: 'Duplicates',
      entry: { event: 'dup_flow' },
      start: 'wait',
      steps: [
        { id: 'wait', type: 'wait', seconds: 3600, next: 'mail' },
        { id: 'mail', type: 'send_email', template_id: templateId, next: 'end' },
        { id: 'end', type: 'exit' },
      ],
    });
    const c = await customer('Dora');
    await track(c.external_id, 'dup_flow');
    // Arrived at the wait (its first run moved it to seq 1, due in an hour).
    const entry = await until(async () => {
      const [row] = await h.db.sql<{ id: number; seq: number }[]>`
        select id, seq from journey_entries where journey_id = ${id} and customer_id = ${c.id} and seq > 0`;
      return row;
    });
    // The wait is over (its job is still delayed for an hour).
    await h.db.sql`update journey_entries set next_run_at = now() where id = ${entry!.id}`;
    // Ten runners race for the due step (a duplicate job, a retry, a re-created job…).
    const { runDueStep } = await import('../../src/journeys/runner.js');
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        runDueStep({ ...h.deps, jobs: h.deps.jobs }, { entry_id: entry!.id, seq: entry!.seq }),
      ),
    );
    expect(
      results.filter((r) => r.outcome === 'ran'),
      JSON.stringify(results),
    ).toHaveLength(1);
    await until(async () => (await mailsTo(c.email)).length >= 1);
    const [sent] = await h.db.sql`select count(*)::int as n from messages where journey_id = ${id}`;
    expect(sent!.n).toBe(1);
    await sleep(500);
    expect(await mailsTo(c.email)).toHaveLength(1);
  });
});
