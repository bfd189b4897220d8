import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendOutWinner } from '../../src/campaigns/ab-send.js';
import { decideAtWindowEnd, reconcileAbTests } from '../../src/campaigns/ab-test.js';
import { cancelCampaign, launchCampaign } from '../../src/campaigns/lifecycle.js';
import { planCampaign } from '../../src/campaigns/plan.js';
import { inTestCell } from '../../src/campaigns/variant.js';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { createBullDispatcher } from '../../src/queue/dispatcher.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// A/B tests with winner send-out, through the API, real workers, Redis and an SMTP sink.

const AUDIENCE = 200;
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, AUDIENCE, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const startTheWorkers = async () => {
  workers ??= await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['planner', 'sender', 'reconciler'],
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      RECONCILE_INTERVAL_MS: '300',
      RECONCILE_IDLE_SECONDS: '5',
      SEND_CONCURRENCY: '10',
      WORKER_LOCK_MS: '5000',
    },
    logger: h.deps.logger,
  });
};

const draft = (abTest: Record<string, unknown> | null, over: Record<string, unknown> = {}) => ({
  name: 'Spring test',
  segment_id: shop.segmentId,
  template_id: shop.templateId,
  offers_per_email: 1,
  variants: [
    { name: 'A', weight: 1, subject: 'Alpha {{customer.first_name}}' },
    { name: 'B', weight: 1, subject: 'Beta {{customer.first_name}}' },
  ],
  from: { address: 'offers@shop.example' },
  ab_test: abTest,
  ...over,
});

const get = async (id: number) => json(await h.get(`/v1/campaigns/${id}`));

/** Polls the campaign until `done` holds (or gives up after ~40 s and returns the last state). */
async function until(id: number, done: (c: any) => boolean): Promise<any> {
  let campaign: any;
  for (let i = 0; i < 400; i++) {
    campaign = await get(id);
    if (done(campaign)) return campaign;
    await new Promise((r) => setTimeout(r, 100));
  }
  return campaign;
}

const launch = async (abTest: Record<string, unknown>) => {
  const created = await h.post('/v1/campaigns', draft(abTest));
  expect(created.status).toBe(201);
  const { id } = await json(created);
  expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
  return id as number;
};

/** Launches and waits until the test cell is out and the window open. */
async function launchAndSendTestCell(abTest: Record<string, unknown>) {
  const id = await launch(abTest);
  const campaign = await until(id, (c) => c.ab_state.window_started_at !== null);
  expect(campaign.ab_state.window_started_at).not.toBeNull();
  return { id, campaign };
}

interface Row {
  id: number;
  customer_id: number;
  variant: string | null;
  status: string;
  ab_remainder: boolean;
  suppressed_reason: string | null;
}
const rowsOf = (id: number) =>
  h.db.sql<Row[]>`
    select id, customer_id, variant, status, ab_remainder, suppressed_reason
    from messages where campaign_id = ${id} order by customer_id`;

/** The mails of one campaign the sink received, by recipient address. */
async function mailsOf(id: number): Promise<ParsedMail[]> {
  const mine = sink.messages.filter((raw) =>
    new RegExp(`^X-Offerflow-Campaign: ${id}\\r?$`, 'im').test(raw.toString('latin1')),
  );
  return Promise.all(mine.map((raw) => simpleParser(raw)));
}
const to = (m: ParsedMail) => (m.to as { text: string }).text;

/** Every eligible customer got exactly one mail from the campaign, and nobody else got one. */
async function expectOneMailEach(id: number) {
  const mails = await mailsOf(id);
  const addresses = mails.map(to);
  expect(new Set(addresses).size).toBe(addresses.length);
  expect(new Set(addresses)).toEqual(new Set([...shop.eligible.values()].map((e) => e.email)));
  return mails;
}

/** Human clicks on every sent test message of a variant, as the tracking endpoints record them. */
const clickAll = (id: number, variant: string) =>
  h.db.sql`
    insert into contact_events (customer_id, kind, channel, message_id, campaign_id, machine)
    select customer_id, 'clicked', 'email', id, campaign_id, false
    from messages where campaign_id = ${id} and variant = ${variant} and status = 'sent'`;

describe('A/B test settings', () => {
  it('are validated with 422 naming the field, and nothing is written', async () => {
    const count = async () =>
      (await h.db.sql<{ n: number }[]>`select count(*)::int as n from campaigns`)[0]!.n;
    const before = await count();
    const good = { test_percent: 20, window_hours: 2, metric: 'click_rate' };
    const cases: [Record<string, unknown>, string][] = [
      [draft({ ...good, test_percent: 0.5 }), 'ab_test.test_percent'],
      [draft({ ...good, test_percent: 51 }), 'ab_test.test_percent'],
      [draft({ ...good, window_hours: 0 }), 'ab_test.window_hours'],
      [draft({ ...good, metric: 'opens' }), 'ab_test.metric'],
      [draft({ ...good, surprise: 1 }), 'ab_test.surprise'],
      [draft({ test_percent: 20, metric: 'click_rate' }), 'ab_test.window_hours'],
      [draft({ ...good, fallback_variant: 'Z' }), 'ab_test.fallback_variant'],
      [draft(good, { variants: [{ name: 'A', weight: 1 }] }), 'ab_test'],
      [
        draft(good, {
          variants: [
            { name: 'A', weight: 1 },
            { name: 'B', weight: 0 },
          ],
        }),
        'ab_test',
      ],
      [draft(good, { variants: undefined }), 'ab_test'],
    ];
    for (const [body, path] of cases) {
      const res = await h.post('/v1/campaigns', body);
      expect(res.status, path).toBe(422);
      expect(
        (await json(res)).errors.map((e: { path: string }) => e.path),
        path,
      ).toContain(path);
    }
    expect(await count()).toBe(before);

    const created = await json(await h.post('/v1/campaigns', draft({ ...good, fallback_variant: 'B' })));
    expect(created.ab_test).toEqual({ ...good, fallback_variant: 'B' });
    expect(created.ab_state).toMatchObject({ phase: 'pending', winner: null, window_ends_at: null });
    // Dropping variant B would orphan the test and its fallback: refused, the row unchanged.
    const orphan = await h.patch(`/v1/campaigns/${created.id}`, { variants: [{ name: 'A', weight: 1 }] });
    expect(orphan.status).toBe(422);
    expect((await json(orphan)).errors.map((e: { path: string }) => e.path)).toEqual([
      'variants',
      'ab_test.fallback_variant',
    ]);
    expect((await get(created.id)).variants).toHaveLength(2);
    const cleared = await json(await h.patch(`/v1/campaigns/${created.id}`, { ab_test: null }));
    expect(cleared).toMatchObject({ ab_test: null, ab_state: null });
    expect((await h.db.sql`select ab_test from campaigns where id = ${created.id}`)[0]!.ab_test).toBeNull();
  });

  it('may change while draft or scheduled, not once sending; send-winner is 409 outside a test', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const { id } = await json(
      await h.post(
        '/v1/campaigns',
        draft({ test_percent: 10, window_hours: 1, metric: 'open_rate' }, { schedule_at: later }),
      ),
    );
    expect((await h.post(`/v1/campaigns/${id}/send-winner`)).status).toBe(409);
    expect((await json(await h.post(`/v1/campaigns/${id}/launch`))).status).toBe('scheduled');
    const patched = await h.patch(`/v1/campaigns/${id}`, {
      ab_test: { test_percent: 25, window_hours: 0.5, metric: 'conversion_rate' },
    });
    expect(patched.status).toBe(200);
    expect((await json(patched)).ab_test).toEqual({
      test_percent: 25,
      window_hours: 0.5,
      metric: 'conversion_rate',
    });
    expect((await h.patch(`/v1/campaigns/${id}`, { name: 'renamed' })).status).toBe(409);
    expect(
      (
        await h.patch(`/v1/campaigns/${id}`, {
          ab_test: { test_percent: 25, window_hours: -1, metric: 'open_rate' },
        })
      ).status,
    ).toBe(422);
    const early = await h.post(`/v1/campaigns/${id}/send-winner`);
    expect(early.status).toBe(409);
    expect(await json(early)).toMatchObject({ ab_phase: 'pending', current_status: 'scheduled' });
    expect((await json(await h.post(`/v1/campaigns/${id}/cancel`))).status).toBe('cancelled');
    expect((await h.patch(`/v1/campaigns/${id}`, { ab_test: null })).status).toBe(409);

    const plain = await json(await h.post('/v1/campaigns', draft(null)));
    const none = await h.post(`/v1/campaigns/${plain.id}/send-winner`, { variant: 'A' });
    expect(none.status).toBe(409);
    expect((await json(none)).detail).toMatch(/no A\/B test/);
    expect((await h.post('/v1/campaigns/987654/send-winner')).status).toBe(404);
    expect(
      (await h.post(`/v1/campaigns/${plain.id}/send-winner`, { variant: 'A' }, { role: 'analyst' })).status,
    ).toBe(403);
  });
});

describe('racing deciders and send-outs, on an injected clock', () => {
  it('give one decision and one row per customer', async () => {
    // A queue prefix no worker listens on: the jobs these calls add stay inert.
    const jobs = createBullDispatcher(h.deps.redis!, `${h.queuePrefix}_inert`);
    const t0 = new Date('2030-01-01T00:00:00Z');
    const deps = (now: Date) => ({ ...h.deps, jobs, clock: () => now });
    try {
      const { id } = await json(
        await h.post('/v1/campaigns', draft({ test_percent: 25, window_hours: 0.5, metric: 'click_rate' })),
      );
      await launchCampaign(h.db.sql, id, t0);
      await Promise.all([planCampaign(deps(t0), id), planCampaign(deps(t0), id)]);
      const planned = await rowsOf(id);
      expect(planned).toHaveLength(AUDIENCE);
      // The test cell goes out (the sender is not the point here): the window opens at t0.
      await h.db
        .sql`update messages set status = 'sent', sent_at = ${t0} where campaign_id = ${id} and status = 'queued'`;
      expect(await reconcileAbTests(deps(t0))).toBe(1);
      const opened = await get(id);
      expect(opened.ab_state).toMatchObject({
        phase: 'testing',
        window_started_at: t0.toISOString(),
        window_ends_at: '2030-01-01T00:30:00.000Z',
      });
      expect(await jobs.queue('planner').getJobState(`ab-decide-${id}`)).toBe('delayed');
      expect(await decideAtWindowEnd(h.db.sql, id, new Date('2030-01-01T00:29:59Z'))).toBe(false);

      const end = new Date('2030-01-01T00:30:00Z');
      const decided = await Promise.all([1, 2, 3].map(() => decideAtWindowEnd(h.db.sql, id, end)));
      expect(decided.filter(Boolean)).toHaveLength(1);
      const after = await get(id);
      expect(after.ab_state).toMatchObject({ phase: 'winner_chosen', decided_at: end.toISOString() });
      expect((await h.post(`/v1/campaigns/${id}/send-winner`)).status).toBe(409);

      const results = await Promise.all([sendOutWinner(deps(end), id), sendOutWinner(deps(end), id)]);
      const rows = await rowsOf(id);
      expect(rows).toHaveLength(AUDIENCE);
      expect(rows.filter((r) => r.status === 'held')).toEqual([]);
      const remainder = rows.filter((r) => r.ab_remainder);
      expect(remainder).toHaveLength(planned.filter((r) => r.status === 'held').length);
      expect(remainder.every((r) => r.variant === after.ab_state.winner)).toBe(true);
      expect(results[0]!.queued + results[1]!.queued).toBe(
        remainder.filter((r) => r.status === 'queued').length,
      );
      await cancelCampaign(h.db.sql, id, end);
    } finally {
      for (const name of ['planner', 'send']) await jobs.queue(name).obliterate({ force: true });
      await jobs.close();
    }
  });
});

// Generous: each test waits for real sends and, twice, for a real window of a few seconds.
describe('an A/B test end to end', { timeout: 90_000 }, () => {
  it('sends the test cell, then on send-winner the significant winner to the rest: one mail each', async () => {
    await startTheWorkers();
    const { id, campaign } = await launchAndSendTestCell({
      test_percent: 20,
      window_hours: 1,
      metric: 'click_rate',
    });
    expect(campaign.status).toBe('sending');
    expect(campaign.ab_state.phase).toBe('testing');
    expect(
      Date.parse(campaign.ab_state.window_ends_at) - Date.parse(campaign.ab_state.window_started_at),
    ).toBe(3_600_000);

    // The test cell is the hash's 20 % of the audience; the rest is held, nobody else was mailed.
    const rows = await rowsOf(id);
    expect(rows).toHaveLength(AUDIENCE);
    const cell = rows.filter((r) => inTestCell(id, r.customer_id, 20));
    expect(cell.length).toBeGreaterThan(AUDIENCE * 0.1);
    expect(cell.length).toBeLessThan(AUDIENCE * 0.3);
    for (const r of rows) {
      if (inTestCell(id, r.customer_id, 20)) expect(['A', 'B']).toContain(r.variant);
      else
        expect(r.status === 'held' || r.status === 'suppressed', `${r.customer_id} ${r.status}`).toBe(true);
      if (shop.suppressed.has(r.customer_id))
        expect(r.suppressed_reason).toBe(shop.suppressed.get(r.customer_id));
    }
    const held = rows.filter((r) => r.status === 'held');
    expect(campaign.progress.counts).toMatchObject({ held: held.length, queued: 0, sending: 0 });
    const cellSent = cell.filter((r) => r.status === 'sent');
    expect(cellSent.length).toBe(cell.filter((r) => shop.eligible.has(r.customer_id)).length);
    const testMails = await mailsOf(id);
    expect(testMails).toHaveLength(cellSent.length);
    for (const mail of testMails) {
      const customerId = [...shop.eligible].find(([, e]) => e.email === to(mail))![0];
      const row = cell.find((r) => r.customer_id === customerId)!;
      expect(mail.subject).toMatch(row.variant === 'A' ? /^Alpha / : /^Beta /);
    }

    // Every B recipient clicks, no A recipient does: B is better at 95 %.
    await clickAll(id, 'B');
    const decided = await h.post(`/v1/campaigns/${id}/send-winner`);
    expect(decided.status).toBe(200);
    const state = (await json(decided)).ab_state;
    expect(state).toMatchObject({
      phase: 'winner_chosen',
      winner: 'B',
      reason: 'significant',
      decided_by: 'marketer',
    });
    expect(state.p_value).toBeLessThan(0.05);
    expect(state.detail).toMatch(/window ended early/);
    expect(state.observed.map((o: { variant: string }) => o.variant)).toEqual(['A', 'B']);
    const again = await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'A' });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ ab_phase: 'winner_chosen' });

    const done = await until(id, (c) => c.status === 'sent');
    expect(done.status).toBe('sent');
    expect(done.progress.counts).toMatchObject({ held: 0, queued: 0, sent: shop.eligible.size });
    const mails = await expectOneMailEach(id);
    const after = await rowsOf(id);
    for (const r of after.filter((x) => x.ab_remainder)) {
      expect(r.variant).toBe('B');
      expect(held.some((x) => x.id === r.id)).toBe(true);
    }
    expect(after.filter((r) => r.ab_remainder)).toHaveLength(held.length);
    const remainderEmails = new Set(
      after
        .filter((r) => r.ab_remainder && r.status === 'sent')
        .map((r) => shop.eligible.get(r.customer_id)!.email),
    );
    for (const mail of mails.filter((m) => remainderEmails.has(to(m))))
      expect(mail.subject).toMatch(/^Beta /);
    expect(
      new Map(
        after.filter((r) => r.status === 'suppressed').map((r) => [r.customer_id, r.suppressed_reason]),
      ),
    ).toEqual(shop.suppressed);

    // The report tells the test cell from the winner send-out.
    const report = await json(await h.get(`/v1/reports/campaigns/${id}`, { role: 'analyst' }));
    const cellA = cellSent.filter((r) => r.variant === 'A').length;
    const cellB = cellSent.filter((r) => r.variant === 'B').length;
    expect(report.ab_test).toMatchObject({
      phase: 'winner_chosen',
      winner: 'B',
      reason: 'significant',
      metric: 'click_rate',
      test_percent: 20,
      p_value: state.p_value,
      test_cell: {
        totals: { sent: cellSent.length },
        variants: [
          expect.objectContaining({ variant: 'A', sent: cellA, clicks: 0 }),
          expect.objectContaining({ variant: 'B', sent: cellB, clicks: cellB, click_rate: 1 }),
        ],
      },
      winner_send_out: { variant: 'B', sent: shop.eligible.size - cellSent.length, clicks: 0 },
    });
    expect(report.totals.sent).toBe(shop.eligible.size);
    expect(report.ab).toMatchObject({ leader: 'B', winner: 'B' });
    const csv = await (await h.get(`/v1/reports/campaigns/${id}?format=csv`)).text();
    expect(csv).toContain(`\nab_winner_send_out,B,B,${shop.eligible.size - cellSent.length},`);
  });

  it('chooses on its own at the window’s end, even when Redis lost the delayed job', async () => {
    await startTheWorkers();
    const { id, campaign } = await launchAndSendTestCell({
      test_percent: 30,
      window_hours: 0.001,
      metric: 'open_rate',
      fallback_variant: 'B',
    });
    // The decision waits in Redis as a delayed job; as if Redis had lost it, the reconciler adds it again.
    const planner = h.dispatcher.queue('planner');
    let state = 'unknown';
    for (let i = 0; i < 50 && state !== 'delayed'; i++) {
      state = await planner.getJobState(`ab-decide-${id}`);
      if (state !== 'delayed') await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('delayed');
    expect(await planner.remove(`ab-decide-${id}`)).toBe(1);
    const done = await until(id, (c) => c.status === 'sent');
    expect(done.status).toBe('sent');
    expect(done.ab_state).toMatchObject({
      phase: 'winner_chosen',
      winner: 'B',
      reason: 'fallback',
      decided_by: 'window',
    });
    expect(Date.parse(done.ab_state.decided_at)).toBeGreaterThanOrEqual(
      Date.parse(campaign.ab_state.window_ends_at),
    );
    await expectOneMailEach(id);
    const rows = await rowsOf(id);
    expect(rows.filter((r) => r.ab_remainder && r.variant !== 'B')).toEqual([]);
  });

  it('sends the variant a marketer picks; a variant that does not exist is 422 and changes nothing', async () => {
    await startTheWorkers();
    const { id } = await launchAndSendTestCell({
      test_percent: 10,
      window_hours: 1,
      metric: 'conversion_rate',
    });
    expect((await h.patch(`/v1/campaigns/${id}`, { ab_test: null })).status).toBe(409);
    const bad = await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'Z' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('variant');
    expect((await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'A', extra: 1 })).status).toBe(422);
    const [undecided] = await h.db.sql`select ab_decided_at, ab_decision from campaigns where id = ${id}`;
    expect(undecided).toEqual({ ab_decided_at: null, ab_decision: null });
    expect((await get(id)).ab_state.phase).toBe('testing');

    const picked = await json(await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'A' }));
    expect(picked.ab_state).toMatchObject({ winner: 'A', reason: 'marketer_choice', decided_by: 'marketer' });
    const done = await until(id, (c) => c.status === 'sent');
    expect(done.status).toBe('sent');
    await expectOneMailEach(id);
    const rows = await rowsOf(id);
    expect(rows.some((r) => r.ab_remainder)).toBe(true);
    expect(rows.filter((r) => r.ab_remainder && r.variant !== 'A')).toEqual([]);
  });

  it('a pause during the window delays the winner send-out until resume', async () => {
    await startTheWorkers();
    const { id } = await launchAndSendTestCell({
      test_percent: 20,
      window_hours: 0.002,
      metric: 'click_rate',
    });
    const paused = await json(await h.post(`/v1/campaigns/${id}/pause`));
    expect(paused.status).toBe('paused');
    const sentBefore = (await mailsOf(id)).length;
    // Wait until the window is over, and a few reconciler ticks more.
    const endsAt = Date.parse(paused.ab_state.window_ends_at);
    await new Promise((r) => setTimeout(r, Math.max(0, endsAt - Date.now()) + 1500));
    const waiting = await get(id);
    expect(waiting.status).toBe('paused');
    expect(waiting.ab_state).toMatchObject({ phase: 'testing', winner: null });
    expect(waiting.progress.counts.held).toBeGreaterThan(0);
    expect((await mailsOf(id)).length).toBe(sentBefore);

    expect((await json(await h.post(`/v1/campaigns/${id}/resume`))).status).toBe('sending');
    const done = await until(id, (c) => c.status === 'sent');
    expect(done.status).toBe('sent');
    expect(done.ab_state).toMatchObject({
      phase: 'winner_chosen',
      decided_by: 'window',
      reason: 'no_difference',
    });
    expect(done.ab_state.winner).toBe('A');
    await expectOneMailEach(id);
  });

  it('a winner chosen while paused is sent out on resume', async () => {
    await startTheWorkers();
    const { id } = await launchAndSendTestCell({ test_percent: 20, window_hours: 1, metric: 'open_rate' });
    expect((await json(await h.post(`/v1/campaigns/${id}/pause`))).status).toBe('paused');
    const sentBefore = (await mailsOf(id)).length;
    const picked = await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'B' });
    expect(picked.status).toBe(200);
    expect(await json(picked)).toMatchObject({
      status: 'paused',
      ab_state: { phase: 'winner_chosen', winner: 'B' },
    });
    // A reconciler tick or two later, the rest is still held and nothing more was sent.
    await new Promise((r) => setTimeout(r, 800));
    const waiting = await get(id);
    expect(waiting.status).toBe('paused');
    expect(waiting.progress.counts.held).toBeGreaterThan(0);
    expect((await mailsOf(id)).length).toBe(sentBefore);

    expect((await json(await h.post(`/v1/campaigns/${id}/resume`))).status).toBe('sending');
    const done = await until(id, (c) => c.status === 'sent');
    expect(done.status).toBe('sent');
    await expectOneMailEach(id);
    expect((await rowsOf(id)).filter((r) => r.ab_remainder && r.variant !== 'B')).toEqual([]);
  });

  it('a cancel during the window drops the rest of the audience', async () => {
    await startTheWorkers();
    const { id } = await launchAndSendTestCell({ test_percent: 15, window_hours: 1, metric: 'click_rate' });
    const sent = (await mailsOf(id)).length;
    const cancelled = await json(await h.post(`/v1/campaigns/${id}/cancel`));
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.ab_state.phase).toBe('cancelled');
    const rows = await rowsOf(id);
    expect(rows.filter((r) => r.status === 'held' || r.status === 'queued')).toEqual([]);
    expect(rows.filter((r) => r.status === 'cancelled').length).toBeGreaterThan(AUDIENCE / 2);
    expect((await h.post(`/v1/campaigns/${id}/send-winner`)).status).toBe(409);
    // A reconciler tick later, still nothing more was sent.
    await new Promise((r) => setTimeout(r, 800));
    expect((await mailsOf(id)).length).toBe(sent);
    expect((await get(id)).status).toBe('cancelled');
  });
});
