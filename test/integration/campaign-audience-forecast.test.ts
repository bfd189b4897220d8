import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forecastAudience } from '../../src/campaigns/audience-forecast.js';
import { planCampaign } from '../../src/campaigns/plan.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// GET /v1/campaigns/{id}/audience: what a launch would do, read without writing; it agrees with
// what the planner then writes, and the launch checklist shows it with each reason in words.

let h: Harness;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 60, h.deps.config.OFFERFLOW_SECRET);
});
afterAll(async () => {
  await h?.close();
});

const draft = async (extra: Record<string, unknown> = {}) =>
  json(
    await h.post('/v1/campaigns', {
      name: `Forecast ${Math.random()}`,
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      ...extra,
    }),
  );

const expectedSuppressions = () => {
  const counts = new Map<string, number>();
  for (const reason of shop.suppressed.values()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return counts;
};

describe('the audience forecast', () => {
  it('counts the audience, who is mailed and who is suppressed by reason, as the planner then decides', async () => {
    const cmp = await draft();
    const res = await h.get(`/v1/campaigns/${cmp.id}/audience`, { role: 'analyst' });
    expect(res.status).toBe(200);
    const f = await json(res);
    expect(f).toMatchObject({ audience: 60, mailable: shop.eligible.size, estimated: false, held_out: [] });
    expect(new Map(f.suppressed.map((s: { reason: string; count: number }) => [s.reason, s.count]))).toEqual(
      expectedSuppressions(),
    );
    // Nothing written by the forecast.
    expect(await h.db.sql`select 1 from messages where campaign_id = ${cmp.id}`).toHaveLength(0);

    expect((await h.post(`/v1/campaigns/${cmp.id}/launch`)).status).toBe(200);
    await planCampaign({ ...h.deps, jobs: h.dispatcher }, cmp.id);
    const planned = await h.db.sql<{ status: string; suppressed_reason: string | null; n: number }[]>`
      select status, suppressed_reason, count(*)::int as n from messages where campaign_id = ${cmp.id}
      group by 1, 2`;
    const suppressed = planned.filter((r) => r.status === 'suppressed');
    expect(new Map(suppressed.map((r) => [r.suppressed_reason, r.n]))).toEqual(expectedSuppressions());
    expect(planned.filter((r) => r.status === 'queued').reduce((a, r) => a + r.n, 0)).toBe(f.mailable);
  });

  it('counts the campaign’s own holdout apart, and scales the counts when the audience is larger than it reads', async () => {
    const cmp = await draft({ holdout_percent: 50 });
    const f = await json(await h.get(`/v1/campaigns/${cmp.id}/audience`));
    const held = f.held_out.find((x: { reason: string }) => x.reason === 'holdout')?.count ?? 0;
    expect(held).toBeGreaterThan(0);
    expect(f.mailable).toBe(shop.eligible.size - held);

    const row = { id: cmp.id, segment_id: shop.segmentId, holdout_percent: 0 };
    const sampled = await forecastAudience(h.deps, row, { now: new Date(), scanLimit: 30 });
    expect(sampled).toMatchObject({ audience: 60, scanned: 30, estimated: true });
    const total = sampled!.mailable + sampled!.suppressed.reduce((a, s) => a + s.count, 0);
    expect(Math.abs(total - 60)).toBeLessThanOrEqual(sampled!.suppressed.length);
  });

  it('answers 409 without a segment, 404 for no campaign, 422 for a bad id and 403 to a sales rep', async () => {
    const none = await json(
      await h.post('/v1/campaigns', { name: 'No segment', template_id: shop.templateId }),
    );
    const noSegment = await h.get(`/v1/campaigns/${none.id}/audience`);
    expect(noSegment.status).toBe(409);
    expect(noSegment.headers.get('content-type')).toContain('application/problem+json');
    expect((await h.get('/v1/campaigns/999999/audience')).status).toBe(404);
    const bad = await h.get('/v1/campaigns/abc/audience');
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('id');
    expect((await h.get(`/v1/campaigns/${none.id}/audience`, { role: 'sales' })).status).toBe(403);
  });

  it('the launch checklist shows the audience, who gets it and each reason in words, and the sender by name', async () => {
    const sender = await json(
      await h.post('/v1/senders', { from_address: 'news@shop.example', from_name: 'Shop News' }),
    );
    const cmp = await draft({ sender_id: sender.id });
    const admin = await signInToUi(h, 'admin');
    const get = async (path: string) =>
      (await h.app.request(path, { headers: { cookie: admin.session } })).text();
    const html = await get(`/ui/campaigns/${cmp.id}/launch`);
    expect(html).toContain('From: Shop News &lt;news@shop.example&gt;');
    expect(html).not.toContain(`#${sender.id}`);
    // The forecast comes after the page, from its own fragment.
    expect(html).toContain(`hx-get="/ui/campaigns/${cmp.id}/forecast"`);
    const forecast = await get(`/ui/campaigns/${cmp.id}/forecast`);
    expect(forecast).toMatch(/id="audience-count">60</);
    expect(forecast).toContain(`id="mailable-count">${shop.eligible.size}<`);
    expect(forecast).toContain('data-reason="no_consent"');
    expect(forecast).toContain('no consent to marketing email');
    expect(forecast).toContain('their address bounced');
  });
});
