import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The campaign form's A/B test fields and the campaign page's A/B summary, through app.request.

let h: Harness;
let shop: ShopFixture;
beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 10, h.deps.config.OFFERFLOW_SECRET);
});
afterAll(async () => h?.close());

const signIn = () => signInToUi(h, 'marketer');

describe('the campaign form’s A/B test', () => {
  it('marks a bad field and saves nothing, then saves the test and shows it', async () => {
    const { session, csrf } = await signIn();
    const fields = {
      _csrf: csrf,
      name: 'UI test',
      segment_id: String(shop.segmentId),
      template_id: String(shop.templateId),
      'variants.0.name': 'A',
      'variants.0.weight': '1',
      'variants.1.name': 'B',
      'variants.1.weight': '1',
      'ab_test.test_percent': '60',
      'ab_test.window_hours': '1.5',
      'ab_test.metric': 'open_rate',
    };
    const post = (body: Record<string, string>) =>
      h.app.request('/ui/campaigns', {
        method: 'POST',
        headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      });
    const bad = await post(fields);
    expect(bad.status).toBe(422);
    expect(await bad.text()).toMatch(/id="f-ab_test-test_percent"[^>]*aria-invalid="true"/);
    expect(await h.db.sql`select count(*)::int as n from campaigns`).toEqual([{ n: 0 }]);

    const good = await post({ ...fields, 'ab_test.test_percent': '20', 'ab_test.fallback_variant': 'B' });
    expect(good.status).toBe(303);
    const id = Number(good.headers.get('location')!.split('/').pop());
    const saved = await json(await h.get(`/v1/campaigns/${id}`));
    expect(saved.ab_test).toEqual({
      test_percent: 20,
      window_hours: 1.5,
      metric: 'open_rate',
      fallback_variant: 'B',
    });
    const page = await (await h.app.request(`/ui/campaigns/${id}`, { headers: { cookie: session } })).text();
    expect(page).toContain('20 % test cell, 1.5 h window, winner on open rate, fallback B');
    expect(page).not.toContain('Send the winner now');
    const edit = await (
      await h.app.request(`/ui/campaigns/${id}/edit`, { headers: { cookie: session } })
    ).text();
    expect(edit).toMatch(/name="ab_test.window_hours"[^>]*value="1.5"/);
  });
});
