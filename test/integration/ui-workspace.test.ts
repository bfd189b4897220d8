import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { getPage, postForm, signInToUi } from '../helpers/ui-session.js';

// The workspace pages over app.request: the launch checklist, report CSVs by role, the
// comparison's bad input, read-only forms, consents and erasure from the card.

let h: Harness;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 6, h.deps.config.OFFERFLOW_SECRET);
});
afterAll(async () => {
  await h?.close();
});

describe('the workspace pages', () => {
  it('the launch checklist names what is missing, and a refused launch shows the API’s reasons', async () => {
    const cmp = await json(
      await h.post('/v1/campaigns', { name: 'No audience yet', template_id: shop.templateId }),
    );
    const admin = await signInToUi(h, 'admin');
    const page = await (await getPage(h, `/ui/campaigns/${cmp.id}/launch`, admin.session)).text();
    expect(page).toMatch(/data-check="segment_id" data-ok="false"/);
    expect(page).toContain('a campaign needs a segment to launch');
    expect(page).not.toContain('>?<');
    const refused = await postForm(h, `/ui/campaigns/${cmp.id}/launch`, admin.session, { _csrf: admin.csrf });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain('a campaign needs a segment to launch');
    expect((await json(await h.get(`/v1/campaigns/${cmp.id}`))).status).toBe('draft');
  });

  it('report CSVs go through the session’s role: an analyst gets them, a sales rep does not', async () => {
    const analyst = await signInToUi(h, 'analyst');
    const res = await getPage(h, '/ui/csv/reports/offers', analyst.session);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toContain('offers.csv');
    const sales = await signInToUi(h, 'sales');
    expect((await getPage(h, '/ui/csv/reports/offers', sales.session)).status).toBe(403);
    expect((await getPage(h, '/ui/csv/reports/..%2Fcustomers', analyst.session)).status).toBe(404);
    expect((await getPage(h, '/ui/reports/compare?campaign=1', analyst.session)).status).toBe(422);
  });

  it('an analyst sees the segment without a Save button', async () => {
    const analyst = await signInToUi(h, 'analyst');
    const html = await (await getPage(h, `/ui/segments/${shop.segmentId}`, analyst.session)).text();
    expect(html).not.toContain('Save segment');
    expect(html).toContain('data-read-only');
  });

  it('consents are withdrawn and granted from the card with their source; erasure needs the typed word', async () => {
    const id = [...shop.eligible.keys()][0]!;
    const admin = await signInToUi(h, 'admin');
    const card = await (await getPage(h, `/ui/customers/${id}`, admin.session)).text();
    expect(card).toContain('Withdraw');
    const withdrawn = await postForm(h, `/ui/customers/${id}/consents`, admin.session, {
      _csrf: admin.csrf,
      purpose: 'marketing_email',
      granted: 'false',
      source: 'phone',
    });
    expect(withdrawn.status).toBe(303);
    const consents = await json(await h.get(`/v1/customers/${id}/consents`));
    expect(consents.current.marketing_email).toMatchObject({ granted: false, source: 'phone' });
    const noSource = await postForm(h, `/ui/customers/${id}/consents`, admin.session, {
      _csrf: admin.csrf,
      purpose: 'marketing_email',
      granted: 'true',
      source: '',
    });
    expect(noSource.status).toBe(422);
    expect(await noSource.text()).toContain('source');

    const wrong = await postForm(h, `/ui/customers/${id}/erase`, admin.session, {
      _csrf: admin.csrf,
      confirm: 'yes',
    });
    expect(wrong.status).toBe(422);
    expect((await json(await h.get(`/v1/customers/${id}`))).erased_at).toBeNull();
    const marketer = await signInToUi(h, 'marketer');
    const notAdmin = await postForm(h, `/ui/customers/${id}/erase`, marketer.session, {
      _csrf: marketer.csrf,
      confirm: 'ERASE',
    });
    expect(notAdmin.status).toBe(403);
    const erased = await postForm(h, `/ui/customers/${id}/erase`, admin.session, {
      _csrf: admin.csrf,
      confirm: 'ERASE',
    });
    expect(erased.status).toBe(303);
    expect((await json(await h.get(`/v1/customers/${id}`))).erased_at).not.toBeNull();
    const exported = await getPage(h, `/ui/customers/${id}/export`, admin.session);
    expect(exported.headers.get('content-disposition')).toContain(`customer-${id}.json`);
  });
});
