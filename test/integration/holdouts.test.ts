import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inControlGroup, inHoldout } from '../../src/holdouts/assign.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { launchAndFinish, type SendingWorkers, startSendingWorkers } from '../helpers/sending-workers.js';
import { signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// Holdouts through the API, the real workers and an SMTP sink: who is held out gets no mail
// and a ledger row saying why, the report compares them with the mailed, and the global control
// group gets transactional mail only.

let h: Harness;
let rig: SendingWorkers | undefined;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 160, h.deps.config.OFFERFLOW_SECRET);
  rig = await startSendingWorkers(h);
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const mails = () => rig!.mails();
const mailsWith = async (header: string, value: number) =>
  (await mails()).filter((m) => m.headers.get(header) === String(value));
const toAddress = (m: ParsedMail) => (m.to as { text: string }).text;

const launch = (body: Record<string, unknown>) => launchAndFinish(h, shop, { name: 'Holdout test', ...body });

const ledger = (campaignId: number) =>
  h.db.sql<
    {
      customer_id: number;
      status: string;
      suppressed_reason: string | null;
      offer_ids: number[];
      held_out_offer_ids: number[];
    }[]
  >`select customer_id, status, suppressed_reason, offer_ids, held_out_offer_ids from messages
    where campaign_id = ${campaignId} order by customer_id`;

describe('a campaign with a 10 % holdout', () => {
  it('mails the other 90 %, records the held-out customers, and reports treated against holdout with lift and interval', async () => {
    const id = await launch({ holdout_percent: 10 });
    const rows = await ledger(id);
    const expectedHeld = [...shop.eligible.keys()].filter((c) => inHoldout(`campaign:${id}`, c, 10));
    const held = rows.filter((r) => r.status === 'holdout');
    expect(held.map((r) => r.customer_id).sort((a, b) => a - b)).toEqual(expectedHeld.sort((a, b) => a - b));
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((r) => r.suppressed_reason === 'holdout')).toBe(true);
    const sent = rows.filter((r) => r.status === 'sent');
    expect(sent.length).toBe(shop.eligible.size - held.length);
    // Suppression comes first: a suppressed customer is suppressed, never counted as held out.
    for (const r of rows) if (shop.suppressed.has(r.customer_id)) expect(r.status).toBe('suppressed');

    const delivered = await mailsWith('x-offerflow-campaign', id);
    const addresses = new Set(delivered.map(toAddress));
    expect(delivered.length).toBe(sent.length);
    for (const r of held) expect(addresses.has(shop.eligible.get(r.customer_id)!.email)).toBe(false);

    const view = await json(await h.get(`/v1/campaigns/${id}`));
    expect(view.holdout_percent).toBe(10);
    expect(view.progress.counts.holdout).toBe(held.length);

    // Purchases after planning: every third mailed customer buys, and one held-out customer.
    const buyers = [...sent.filter((_, i) => i % 3 === 0), held[0]!];
    for (const [i, b] of buyers.entries()) {
      const res = await h.post('/v1/purchases', {
        external_line_id: `holdout-${id}-${i}`,
        customer_id: b.customer_id,
        amount: 40,
        purchased_at: new Date().toISOString(),
      });
      expect(res.status).toBe(201);
    }
    const report = await json(await h.get(`/v1/reports/campaigns/${id}?window_days=7`));
    const inc = report.incremental;
    expect(inc.treated.customers).toBe(sent.length);
    expect(inc.holdout.customers).toBe(held.length);
    expect(inc.treated.conversions).toBe(buyers.length - 1);
    expect(inc.holdout.conversions).toBe(1);
    expect(inc.holdout_reasons).toEqual({ holdout: held.length });
    const expectedLift = (buyers.length - 1) / sent.length - 1 / held.length;
    expect(inc.lift.absolute).toBeCloseTo(expectedLift, 10);
    expect(inc.lift.ci95).toHaveLength(2);
    expect(inc.lift.ci95[0]).toBeLessThan(inc.lift.absolute);
    expect(inc.lift.ci95[1]).toBeGreaterThan(inc.lift.absolute);
    expect(inc.revenue_lift.absolute).toBeCloseTo(40 * expectedLift, 6);
    expect(inc.min_detectable_effect.conversion_rate).toBeGreaterThan(0);
    expect(['lift', 'not_enough_data', 'no_detectable_difference']).toContain(inc.verdict);
    // Last-touch figures stay beside the incremental ones.
    expect(report.totals.sent).toBe(sent.length);

    const csv = await (await h.get(`/v1/reports/campaigns/${id}?format=csv`)).text();
    expect(csv.split('\n')[0]).toContain('lift_ci95_low');
    expect(csv).toMatch(/^incremental_treated,/m);
    expect(csv).toMatch(/^incremental_holdout,/m);
    expect(csv).toMatch(/^incremental_lift,/m);
  });

  it('refuses a holdout over 50 % or not a number, naming the field, and writes nothing', async () => {
    const before = await h.db.sql`select count(*)::int as n from campaigns`;
    for (const bad of [80, -1, '10']) {
      const res = await h.post('/v1/campaigns', {
        name: 'Bad',
        segment_id: shop.segmentId,
        template_id: shop.templateId,
        holdout_percent: bad,
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(await res.json())).toContain('holdout_percent');
    }
    expect(await h.db.sql`select count(*)::int as n from campaigns`).toEqual(before);
    expect((await h.patch('/v1/settings', { holdout_percent: 70 })).status).toBe(422);
    expect((await h.patch('/v1/settings', { holdout_refresh_days: 0 })).status).toBe(422);
    expect((await h.patch('/v1/settings', { nope: 1 })).status).toBe(422);
    expect((await json(await h.get('/v1/settings'))).holdout_percent).toBe(0);
    expect((await h.patch('/v1/settings', { holdout_percent: 5 }, { role: 'marketer' })).status).toBe(403);
  });
});

describe('an offer holdout', () => {
  it('gives its held-out customers the next-ranked offer, records it on the ledger, and reports the offer against them', async () => {
    const garden = shop.offerIds[0]!;
    expect((await h.patch(`/v1/offers/${garden}`, { holdout_percent: 50 })).status).toBe(200);
    try {
      const id = await launch({});
      const rows = (await ledger(id)).filter((r) => r.status === 'sent');
      const heldOut = rows.filter((r) => r.held_out_offer_ids.includes(garden));
      const shown = rows.filter((r) => r.offer_ids.includes(garden));
      expect(heldOut.length).toBeGreaterThan(0);
      expect(shown.length).toBeGreaterThan(0);
      for (const r of heldOut) {
        expect(inHoldout(`offer:${garden}`, r.customer_id, 50)).toBe(true);
        // The fallback takes the place: garden customers are not eligible for books.
        expect(r.offer_ids).toEqual([shop.offerIds[2]]);
      }
      for (const r of shown) expect(inHoldout(`offer:${garden}`, r.customer_id, 50)).toBe(false);
      const byAddress = new Map((await mailsWith('x-offerflow-campaign', id)).map((m) => [toAddress(m), m]));
      const heldMail = byAddress.get(shop.eligible.get(heldOut[0]!.customer_id)!.email)!;
      expect(heldMail.html).toContain('Free delivery');
      expect(heldMail.html).not.toContain('Garden -20%');
      expect(byAddress.get(shop.eligible.get(shown[0]!.customer_id)!.email)!.html).toContain('Garden -20%');

      const report = await json(await h.get(`/v1/reports/offers/${garden}`));
      expect(report.offer).toMatchObject({ id: garden, name: 'garden' });
      expect(report.incremental.holdout.customers).toBe(new Set(heldOut.map((r) => r.customer_id)).size);
      expect(report.incremental.treated.customers).toBeGreaterThanOrEqual(shown.length);

      const explained = await json(
        await h.post('/v1/decisions', { customer_id: heldOut[0]!.customer_id, placements: 1, explain: true }),
      );
      const excluded = explained.excluded.find((x: { offer_id: number }) => x.offer_id === garden);
      expect(excluded.reasons[0].code).toBe('holdout');
    } finally {
      await h.patch(`/v1/offers/${garden}`, { holdout_percent: 0 });
    }
  });
});

describe('the global control group', () => {
  it('never gets promotional mail, but gets transactional mail', async () => {
    const settings = await json(
      await h.patch('/v1/settings', { holdout_percent: 20, holdout_refresh_days: 90 }),
    );
    expect(settings).toMatchObject({ holdout_percent: 20, holdout_refresh_days: 90 });
    expect(settings.control_group).toMatchObject({ percent: 20 });
    const [group] = await h.db.sql<{ id: number; percent: number; salt: string; started_at: Date }[]>`
      select id, percent::float8 as percent, salt, started_at from control_groups where ended_at is null`;
    expect(group!.id).toBe(settings.control_group.id);
    const members = new Set([...shop.eligible.keys()].filter((c) => inControlGroup(group!, c)));
    expect(members.size).toBeGreaterThan(0);

    // A promotional campaign: every member is held out with the reason control_group.
    const id = await launch({});
    const rows = await ledger(id);
    const controlled = rows.filter((r) => r.suppressed_reason === 'control_group');
    expect(new Set(controlled.map((r) => r.customer_id))).toEqual(members);
    expect(controlled.every((r) => r.status === 'holdout')).toBe(true);
    const addresses = new Set((await mailsWith('x-offerflow-campaign', id)).map(toAddress));
    for (const c of members) expect(addresses.has(shop.eligible.get(c)!.email)).toBe(false);

    // Purchase triggers: the promotional one skips members; the transactional one reaches them.
    const make = async (name: string, transactional: boolean) => {
      const res = await h.post('/v1/triggers', {
        name,
        event: 'purchase',
        template_id: shop.templateId,
        transactional,
      });
      expect(res.status).toBe(201);
      return (await json(res)).id as number;
    };
    const promotional = await make('Thanks and an offer', false);
    const transactional = await make('Your receipt', true);
    const member = [...members][0]!;
    const other = [...shop.eligible.keys()].find((c) => !members.has(c))!;
    for (const c of [member, other]) {
      const res = await h.post('/v1/purchases', {
        external_line_id: `control-${c}`,
        customer_id: c,
        amount: 15,
        purchased_at: new Date().toISOString(),
      });
      expect(res.status).toBe(201);
    }
    const triggerRows = () =>
      h.db.sql<
        { trigger_id: number; customer_id: number; status: string; suppressed_reason: string | null }[]
      >`
        select trigger_id, customer_id, status, suppressed_reason from messages
        where trigger_id in (${promotional}, ${transactional}) order by trigger_id, customer_id`;
    const settled = await until(async () => {
      const r = await triggerRows();
      return r.length === 4 && r.every((m) => m.status === 'sent' || m.status === 'holdout') && r;
    });
    const statusOf = (t: number, c: number) => settled.find((r) => r.trigger_id === t && r.customer_id === c);
    expect(statusOf(promotional, member)).toMatchObject({
      status: 'holdout',
      suppressed_reason: 'control_group',
    });
    expect(statusOf(promotional, other)?.status).toBe('sent');
    expect(statusOf(transactional, member)?.status).toBe('sent');
    expect(statusOf(transactional, other)?.status).toBe('sent');
    const memberMails = (await mails()).filter(
      (m) => toAddress(m) === shop.eligible.get(member)!.email && m.headers.get('x-offerflow-trigger'),
    );
    expect(memberMails.map((m) => m.headers.get('x-offerflow-trigger'))).toEqual([String(transactional)]);

    const report = await json(await h.get(`/v1/reports/triggers/${promotional}`));
    expect(report.incremental.holdout_reasons).toEqual({ control_group: 1 });

    // A refresh draws a new group and keeps the old one on record.
    const refreshed = await json(await h.post('/v1/settings/control-group/refresh'));
    expect(refreshed.control_group.id).not.toBe(group!.id);
    const history = await json(await h.get('/v1/control-groups'));
    expect(history.data.map((g: { id: number }) => g.id)).toContain(group!.id);
    expect(history.data.find((g: { id: number }) => g.id === group!.id).ended_at).not.toBeNull();
    await h.patch('/v1/settings', { holdout_percent: 0 });
  });
});

describe('the holdouts page', () => {
  it('sets the global control group without JSON, and shows a bad percent next to its field', async () => {
    const ui = await signInToUi(h, 'admin');
    const post = (path: string, fields: Record<string, string>) =>
      h.app.request(path, {
        method: 'POST',
        headers: { cookie: ui.session, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: ui.csrf, ...fields }),
      });
    const bad = await post('/ui/holdouts', { holdout_percent: '70', holdout_refresh_days: '' });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(/holdout_percent/);
    expect((await json(await h.get('/v1/settings'))).holdout_percent).toBe(0);
    const ok = await post('/ui/holdouts', { holdout_percent: '5', holdout_refresh_days: '30' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('In force: 5 % of customers');
    expect(await json(await h.get('/v1/settings'))).toMatchObject({
      holdout_percent: 5,
      holdout_refresh_days: 30,
    });
    const before = (await json(await h.get('/v1/settings'))).control_group.id;
    expect((await post('/ui/holdouts/refresh', {})).status).toBe(200);
    expect((await json(await h.get('/v1/settings'))).control_group.id).not.toBe(before);
    await h.patch('/v1/settings', { holdout_percent: 0, holdout_refresh_days: null });
  });
});
