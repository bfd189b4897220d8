import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAbCampaign } from '../helpers/ab-fixture.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The A/B report on the campaign page: one verdict, the test cell's variants and the winner
// send-out apart, while the test runs and after the winner went out.

let h: Harness;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 40, h.deps.config.OFFERFLOW_SECRET);
});
afterAll(async () => {
  await h?.close();
});

const reportOf = async (id: number) => {
  const analyst = await signInToUi(h, 'analyst');
  const res = await h.app.request(`/ui/campaigns/${id}`, { headers: { cookie: analyst.session } });
  expect(res.status).toBe(200);
  const html = await res.text();
  const start = html.indexOf('id="report"');
  expect(start).toBeGreaterThan(-1);
  return html.slice(start);
};

const count = (html: string, needle: string) => html.split(needle).length - 1;

describe('the A/B report', () => {
  it('while the test runs: one verdict, no winner yet, the send-out not sent', async () => {
    const id = await seedAbCampaign(h, shop, { name: 'Testing', decide: false });
    const report = await reportOf(id);
    expect(count(report, 'id="ab-verdict"')).toBe(1);
    expect(report).toContain('no winner yet');
    expect(report).not.toContain('No significant difference');
    expect(report).toContain('Test cell (50 % of the audience)');
    expect(report).toContain('id="send-out-pending"');
  });

  it('after the send-out: the winner once, the test cell and the send-out counted apart', async () => {
    const id = await seedAbCampaign(h, shop, { name: 'Decided', decide: true });
    const api = await json(await h.get(`/v1/reports/campaigns/${id}`, { role: 'analyst' }));
    expect(api.ab_test.winner).toBe('B');
    const cellSent = api.ab_test.test_cell.totals.sent;
    const sendOut = api.ab_test.winner_send_out.sent;
    expect(cellSent + sendOut).toBe(shop.eligible.size);
    const report = await reportOf(id);
    expect(count(report, 'id="ab-verdict"')).toBe(1);
    expect(report).toMatch(/id="ab-verdict">\s*Winner: B/);
    expect(report).not.toContain('No significant difference');
    expect(report).not.toContain('no winner yet');
    const from = report.indexOf('Winner send-out');
    const sendOutSection = report.slice(from, report.indexOf('<h3', from));
    expect(sendOutSection).toContain(`>${sendOut}<`);
    expect(report).not.toContain('id="send-out-pending"');
  });
});
