import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers, WORKER_ROLES } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// The learning ranker on triggers and journeys, through the API, the real workers (trigger,
// journey, sender, and the ranker worker that recomputes the posteriors) and an SMTP sink: a
// trigger's and a journey step's mail choose offers with the learner when they ask for it, their
// impressions teach the same statistics as a campaign's, and explain shows the estimate.

let h: Harness;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;
let shop: ShopFixture;
let wine: number;
let tea: number;
let serial = 0;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 160, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: WORKER_ROLES,
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      RECONCILE_INTERVAL_MS: '300',
      SEND_CONCURRENCY: '10',
      RANKER_REFRESH_MS: '300',
      WORKER_LOCK_MS: '5000',
    },
    logger: h.deps.logger,
  });
  // Two offers open to everyone; the static ranking would always show tea (higher priority).
  for (const id of shop.offerIds) expect((await h.delete(`/v1/offers/${id}`)).status).toBe(204);
  const create = async (name: string, priority: number) => {
    const res = await h.post('/v1/offers', {
      name,
      title: `${name} offer`,
      url: `https://shop.example/${name}`,
      category: name,
      priority,
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    return (await json(res)).id as number;
  };
  tea = await create('tea', 9);
  wine = await create('wine', 1);
  // Two rounds of a trigger per customer: under any cap.
  expect(
    (await h.request('PUT', '/v1/triggers/settings', { body: { max_messages: 100, days: 7 } })).status,
  ).toBe(200);
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

/** One custom event per mailable customer of the shop (external ids `c1`, `c2`, …). */
async function trackAll(event: string): Promise<void> {
  const externals = (
    await h.db.sql<{ external_id: string }[]>`
      select external_id from customers where id = any(${[...shop.eligible.keys()]}::bigint[])`
  ).map((r) => r.external_id);
  const batch = externals.map((userId) => ({ type: 'track', event, userId, messageId: `e-${++serial}` }));
  const res = await h.post('/v1/events', batch, { role: 'integrator' });
  expect(res.status, await res.clone().text()).toBe(201);
}

type Row = { id: number; customer_id: number; offer_ids: number[]; ranker_cell: string | null };

/** The sent rows of a producer, once every mailable customer's has been sent `round` times. */
async function sentRows(where: 'trigger_id' | 'journey_id', id: number, round: number): Promise<Row[]> {
  const all = await until(async () => {
    const rows = await h.db.sql<Row[]>`
      select id, customer_id, offer_ids, ranker_cell from messages
      where ${h.db.sql(where)} = ${id} and status = 'sent' order by id`;
    return rows.length === shop.eligible.size * round && rows;
  }, 60_000);
  return all.slice(shop.eligible.size * (round - 1));
}

const share = (rows: { offer_ids: number[] }[], offerId: number) =>
  rows.filter((r) => r.offer_ids[0] === offerId).length / rows.length;

interface LearnedCell {
  cell: string;
  impressions: number;
  conversions: number;
  text: string;
}
const learned = async (offerId: number): Promise<LearnedCell | undefined> => {
  const view = await json(await h.get('/v1/ranker'));
  return view.offers
    .find((o: { offer_id: number }) => o.offer_id === offerId)
    ?.cells.find((c: LearnedCell) => c.cell === '*');
};

/** Every second customer shown wine buys through its link; nobody shown tea does. */
async function wineConverts(rows: Row[]): Promise<number> {
  const buyers = rows.filter((r) => r.offer_ids[0] === wine).filter((_, i) => i % 2 === 0);
  for (const r of buyers) {
    const token = signToken(h.deps.config.OFFERFLOW_SECRET, 'click', {
      messageId: r.id,
      linkIndex: OFFER_LINK_BASE,
    });
    const res = await h.post('/v1/conversions', {
      token,
      amount: 30,
      currency: 'EUR',
      order_ref: `o-${r.id}`,
    });
    expect(res.status, await res.clone().text()).toBe(201);
  }
  return buyers.length;
}

/**
 * The whole experiment for one producer: a first round drawn from the prior, half of wine's
 * customers converting, the worker folding it in, and a second round shifted toward wine.
 */
async function learnsFrom(producer: { where: 'trigger_id' | 'journey_id'; id: number; event: string }) {
  await trackAll(producer.event);
  const first = await sentRows(producer.where, producer.id, 1);
  const firstWine = share(first, wine);
  // Nothing learned yet: both offers are drawn from the same prior.
  expect(firstWine).toBeGreaterThan(0.2);
  expect(firstWine).toBeLessThan(0.8);
  expect(first.every((r) => r.ranker_cell !== null)).toBe(true);
  const buyers = await wineConverts(first);
  const wineLearned = await until(async () => {
    const w = await learned(wine);
    return w && w.conversions === buyers && w;
  }, 30_000);
  // The producer's impressions taught the same statistics as a campaign's would.
  expect(wineLearned.impressions).toBe(first.filter((r) => r.offer_ids[0] === wine).length);
  expect((await learned(tea))?.impressions).toBe(first.filter((r) => r.offer_ids[0] === tea).length);

  await trackAll(producer.event);
  const second = await sentRows(producer.where, producer.id, 2);
  const secondWine = share(second, wine);
  expect(secondWine).toBeGreaterThan(0.85);
  expect(secondWine).toBeGreaterThan(firstWine);
  return { first, second };
}

/** Forgets everything learned, and waits for a recomputation after it. */
async function resetRanker(): Promise<void> {
  expect((await h.post('/v1/ranker/reset')).status).toBe(200);
  const refreshed = (await json(await h.get('/v1/ranker'))).refreshed_at;
  await until(async () => (await json(await h.get('/v1/ranker'))).refreshed_at !== refreshed, 30_000);
}

describe('the learning ranker on triggers and journeys', () => {
  it('a trigger with learning ranking shifts its mail toward the offer that converts', async () => {
    const res = await h.post('/v1/triggers', {
      name: 'Visit',
      event: 'event',
      params: { event_name: 'visited' },
      template_id: shop.templateId,
      offers_per_email: 1,
      ranker: { mode: 'learning', exploration: 0 },
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    const trigger = await json(res);
    expect(trigger.ranker).toEqual({
      mode: 'learning',
      objective: 'conversion',
      segment_cells: false,
      exploration: 0,
    });
    expect((await json(await h.get(`/v1/triggers/${trigger.id}`))).ranker.mode).toBe('learning');
    await learnsFrom({ where: 'trigger_id', id: trigger.id, event: 'visited' });

    // A trigger that did not opt in keeps the static ranking: tea, by priority.
    const plain = await json(
      await h.post('/v1/triggers', {
        name: 'Plain',
        event: 'event',
        params: { event_name: 'browsed' },
        template_id: shop.templateId,
        offers_per_email: 1,
      }),
    );
    expect(plain.ranker.mode).toBe('priority');
    await trackAll('browsed');
    expect(share(await sentRows('trigger_id', plain.id, 1), tea)).toBe(1);
    // A patch switches it to the learner (the short form), leaving the rest as it was.
    const res2 = await h.patch(`/v1/triggers/${plain.id}`, { ranker: 'learning' });
    expect(res2.status).toBe(200);
    const patched = await json(res2);
    expect(patched.ranker).toEqual({
      mode: 'learning',
      objective: 'conversion',
      segment_cells: false,
      exploration: 0.05,
    });
    expect(patched.offers_per_email).toBe(1);
    await h.patch(`/v1/triggers/${plain.id}`, { enabled: false });
    await h.patch(`/v1/triggers/${trigger.id}`, { enabled: false });
  });

  it('a journey’s send_email step with learning ranking does likewise, and explain shows the estimate', async () => {
    await resetRanker();
    const res = await h.post('/v1/journeys', {
      name: 'Learned offers',
      entry: { event: 'came_back' },
      re_entry: 'after_exit',
      start: 'mail',
      steps: [
        {
          id: 'mail',
          type: 'send_email',
          template_id: shop.templateId,
          offers_per_email: 1,
          ranker: { mode: 'learning', exploration: 0, segment_cells: true },
          next: 'end',
        },
        { id: 'end', type: 'exit' },
      ],
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    const journey = await json(res);
    expect(journey.steps[0].ranker).toEqual({
      mode: 'learning',
      objective: 'conversion',
      segment_cells: true,
      exploration: 0,
    });
    expect((await h.post(`/v1/journeys/${journey.id}/activate`)).status).toBe(200);
    const { first, second } = await learnsFrom({ where: 'journey_id', id: journey.id, event: 'came_back' });
    // Learned per cell: each row records the customer's cell (top category | recency band).
    expect(first.every((r) => r.ranker_cell?.includes('|') === true)).toBe(true);

    // Explain reads what the worker learned, once it has folded in both rounds.
    const shown = (offer: number) => [...first, ...second].filter((r) => r.offer_ids[0] === offer).length;
    await until(async () => (await learned(wine))?.impressions === shown(wine), 30_000);
    const decided = await json(
      await h.post('/v1/decisions', {
        customer_id: first[0]!.customer_id,
        placements: 1,
        explain: true,
        ranker: { mode: 'learning', exploration: 0 },
        seed: 3,
      }),
    );
    const top = decided.offers[0];
    expect(top.offer_id).toBe(wine);
    expect(top.learned.text).toMatch(/^conversion \d+\.\d % ± \d+\.\d %, [\d,]+ impressions$/);
    expect(top.learned.impressions).toBe(shown(wine));
    const teaOut = decided.excluded.find((x: { offer_id: number }) => x.offer_id === tea);
    expect(teaOut.reasons[0].message).toMatch(/learned conversion \d+\.\d % ± /);

    // The dry run ranks as the step would: wine, now that it converts.
    const preview = await json(
      await h.post(`/v1/journeys/${journey.id}/preview`, { customer_id: first[0]!.customer_id }),
    );
    const mail = preview.path.find((p: { step: string }) => p.step === 'mail');
    expect(mail.why).toContain(`offers ${wine}`);
  });

  it('refuses a bad ranker on a trigger or a journey step, naming the field, and writes nothing', async () => {
    const triggers = await h.db.sql`select count(*)::int as n from triggers`;
    const journeys = await h.db.sql`select count(*)::int as n from journeys`;
    for (const [ranker, field] of [
      ['smart', 'ranker'],
      [{ mode: 'learning', exploration: 2 }, 'exploration'],
      [{ mode: 'learning', objective: 'clicks' }, 'objective'],
      [{ mode: 'learning', extra: 1 }, 'extra'],
    ] as const) {
      const bad = await h.post('/v1/triggers', {
        name: 'Bad',
        event: 'event',
        params: { event_name: 'x' },
        template_id: shop.templateId,
        ranker,
      });
      expect(bad.status).toBe(422);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(await bad.json())).toContain(field);
      const badStep = await h.post('/v1/journeys', {
        name: 'Bad',
        entry: { event: 'x' },
        start: 'mail',
        steps: [
          { id: 'mail', type: 'send_email', template_id: shop.templateId, ranker, next: 'end' },
          { id: 'end', type: 'exit' },
        ],
      });
      expect(badStep.status).toBe(422);
      const problem = JSON.stringify(await badStep.json());
      expect(problem).toContain('steps.0');
      expect(problem).toContain(field);
    }
    expect(await h.db.sql`select count(*)::int as n from triggers`).toEqual(triggers);
    expect(await h.db.sql`select count(*)::int as n from journeys`).toEqual(journeys);
  });
});
