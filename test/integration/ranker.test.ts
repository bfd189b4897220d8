import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFER_LINK_BASE } from '../../src/tracking/links.js';
import { signToken } from '../../src/tracking/tokens.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { launchAndFinish, type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// The learning ranker through the API, the real workers (planner, sender, and the ranker worker
// that recomputes the posteriors) and an SMTP sink: impressions move toward the offer that
// converts, explain shows what was learned, and a reset forgets it.

let h: Harness;
let rig: SendingWorkers | undefined;
let shop: ShopFixture;
let wine: number;
let tea: number;
let learningCampaign: number;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 160, h.deps.config.OFFERFLOW_SECRET);
  rig = await startSendingWorkers(h, { env: { RANKER_REFRESH_MS: '300' } });
  // Two offers open to everyone; the static ranking would always show tea (higher priority).
  for (const id of shop.offerIds.slice(0, 2)) expect((await h.delete(`/v1/offers/${id}`)).status).toBe(204);
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
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const mailsOf = (campaignId: number) => rig!.mailsOf(campaignId);
const launch = (body: Record<string, unknown>) => launchAndFinish(h, shop, { name: 'Ranker test', ...body });

const sentRows = (campaignId: number) =>
  h.db.sql<{ id: number; customer_id: number; offer_ids: number[]; ranker_cell: string | null }[]>`
    select id, customer_id, offer_ids, ranker_cell from messages
    where campaign_id = ${campaignId} and status = 'sent' order by customer_id`;

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

describe('the learning ranker', () => {
  it('shifts impressions toward the offer that converts, and explain shows its estimate', async () => {
    // First mailing: nothing learned yet, so both offers are drawn from the same prior.
    const first = await launch({ ranker: { mode: 'learning', exploration: 0 } });
    learningCampaign = first;
    const view = await json(await h.get(`/v1/campaigns/${first}`));
    expect(view.ranker).toEqual({
      mode: 'learning',
      objective: 'conversion',
      segment_cells: false,
      exploration: 0,
    });
    const rows = await sentRows(first);
    expect(rows.length).toBe(shop.eligible.size);
    const firstWine = share(rows, wine);
    expect(firstWine).toBeGreaterThan(0.2);
    expect(firstWine).toBeLessThan(0.8);
    // Each learned row records the customer's cell, which its impression teaches.
    expect(rows.every((r) => r.ranker_cell?.includes('|') === true)).toBe(true);
    // What was decided is what was mailed.
    const mails = await mailsOf(first);
    expect(mails.length).toBe(rows.length);
    const byAddress = new Map(mails.map((m) => [(m.to as { text: string }).text, m]));
    for (const r of rows.slice(0, 20)) {
      const html = String(byAddress.get(shop.eligible.get(r.customer_id)!.email)!.html);
      expect(html).toContain(r.offer_ids[0] === wine ? 'wine offer' : 'tea offer');
    }

    // Every second customer shown wine buys through its link; nobody shown tea does.
    const wineRows = rows.filter((r) => r.offer_ids[0] === wine);
    const buyers = wineRows.filter((_, i) => i % 2 === 0);
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
    // The ranker worker folds the impressions and conversions in.
    const wineLearned = await until(async () => {
      const w = await learned(wine);
      return w && w.conversions === buyers.length && w;
    }, 30_000);
    expect(wineLearned.impressions).toBe(wineRows.length);
    expect((await learned(tea))?.impressions).toBe(rows.length - wineRows.length);
    expect((await learned(tea))?.conversions).toBe(0);

    // Second mailing: the ranker now favours wine.
    const second = await launch({ ranker: 'learning' });
    const secondRows = await sentRows(second);
    const secondWine = share(secondRows, wine);
    expect(secondWine).toBeGreaterThan(0.85);
    expect(secondWine).toBeGreaterThan(firstWine);
    // A campaign that did not opt in keeps the static ranking: tea, by priority.
    const plain = await launch({});
    const plainRows = await sentRows(plain);
    expect(share(plainRows, tea)).toBe(1);
    // Explain reads what the worker learned: once it has folded in every mailing, two asks see
    // the same statistics.
    const mailed = [...rows, ...secondRows, ...plainRows];
    const shown = (offer: number) => mailed.filter((r) => r.offer_ids.includes(offer)).length;
    await until(async () => {
      const [w, t] = [await learned(wine), await learned(tea)];
      return w?.impressions === shown(wine) && t?.impressions === shown(tea);
    }, 30_000);

    // Explain: the learned estimate and its uncertainty; the same seed decides the same.
    const customer = rows[0]!.customer_id;
    const ask = () =>
      h.post('/v1/decisions', {
        customer_id: customer,
        placements: 1,
        explain: true,
        ranker: { mode: 'learning', exploration: 0 },
        seed: 7,
      });
    const decided = await json(await ask());
    expect(decided.ranker.explore).toBe(false);
    const top = decided.offers[0];
    expect(top.offer_id).toBe(wine);
    expect(top.learned.text).toMatch(/^conversion \d+\.\d % ± \d+\.\d %, [\d,]+ impressions$/);
    const wineNow = (await learned(wine))!;
    expect(top.learned.impressions).toBe(wineNow.impressions);
    expect(top.learned.conversion_rate).toBeCloseTo(
      (1 + wineNow.conversions) / (2 + wineNow.impressions),
      10,
    );
    const teaOut = decided.excluded.find((x: { offer_id: number }) => x.offer_id === tea);
    expect(teaOut.reasons[0].code).toBe('outranked');
    expect(teaOut.reasons[0].message).toMatch(/learned conversion 0\.\d % ± /);
    expect(await json(await ask())).toEqual(decided);
  });

  it('shows the campaign’s ranking on its page', async () => {
    const ui = await signInToUi(h, 'admin');
    const page = await h.app.request(`/ui/campaigns/${learningCampaign}`, {
      headers: { cookie: ui.session },
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('learning (conversion, 0 % exploration)');
    expect(html).toContain('Send time');
  });

  it('forgets what it learned of an offer on reset, and refuses a bad reset naming the field', async () => {
    const res = await h.post('/v1/ranker/reset', { offer_id: wine });
    expect(res.status).toBe(200);
    expect((await json(res)).offers.find((o: { offer_id: number }) => o.offer_id === wine)).toBeUndefined();
    // Later recomputations count only impressions after the reset.
    const refreshed = (await json(await h.get('/v1/ranker'))).refreshed_at;
    await until(async () => (await json(await h.get('/v1/ranker'))).refreshed_at !== refreshed, 30_000);
    expect(await learned(wine)).toBeUndefined();
    expect((await learned(tea))?.impressions).toBeGreaterThan(0);

    for (const [body, field] of [
      [{ offer_id: 999_999 }, 'offer_id'],
      [{ offer_id: 'wine' }, 'offer_id'],
      [{ everything: true }, 'everything'],
    ] as const) {
      const bad = await h.post('/v1/ranker/reset', body);
      expect(bad.status).toBe(422);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(await bad.json())).toContain(field);
    }
    expect((await h.post('/v1/ranker/reset', {}, { role: 'analyst' })).status).toBe(403);
    expect((await learned(tea))?.impressions).toBeGreaterThan(0);
    // No body: every offer.
    expect((await h.post('/v1/ranker/reset')).status).toBe(200);
    expect((await json(await h.get('/v1/ranker'))).offers).toEqual([]);
  });

  it('refuses a bad ranker on a campaign or a decision, naming the field, and writes nothing', async () => {
    const before = await h.db.sql`select count(*)::int as n from campaigns`;
    for (const [ranker, field] of [
      ['smart', 'ranker'],
      [{ mode: 'learning', exploration: 2 }, 'exploration'],
      [{ mode: 'learning', objective: 'clicks' }, 'objective'],
      [{ mode: 'learning', extra: 1 }, 'extra'],
    ] as const) {
      const res = await h.post('/v1/campaigns', {
        name: 'Bad ranker',
        segment_id: shop.segmentId,
        template_id: shop.templateId,
        ranker,
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(await res.json())).toContain(field);
    }
    expect(await h.db.sql`select count(*)::int as n from campaigns`).toEqual(before);
    const bad = await h.post('/v1/decisions', { customer_id: 1, ranker: 'learning', seed: -1 });
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await bad.json())).toContain('seed');
  });
});
