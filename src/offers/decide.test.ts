import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { decideOffers, decideOffersBatch, loadCatalogue } from './decide.js';
import { recordOfferImpressions } from './impressions.js';
import { insertOffer, type OfferValues } from './store.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const N = 1200;

let db: TestDatabase;
let ids: number[];

const values = (over: Partial<OfferValues>): OfferValues => ({
  name: 'offer',
  title: 'Offer',
  text: null,
  image_url: null,
  url: null,
  code: null,
  category: null,
  eligibility: null,
  score: null,
  priority: 0,
  valid_from: null,
  valid_to: null,
  cap_per_customer_count: null,
  cap_per_customer_days: null,
  global_cap: null,
  exclude_if_bought_within_days: null,
  fallback: false,
  holdout_percent: 0,
  product: null,
  translations: {},
  ...over,
});

beforeAll(async () => {
  db = await createTestDatabase();
  const sql = db.sql;
  const rows = await sql<{ id: number }[]>`
    insert into customers (external_id, email)
    select 'c' || i, case when i % 97 = 0 then 'boom@example.com' else 'c' || i || '@example.com' end
    from generate_series(1, ${N}) as i
    returning id`;
  ids = rows.map((r) => r.id).sort((a, b) => a - b);
  await sql`
    insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
    select 'l' || c.id || '-' || k, c.id, (array['garden', 'wine', 'books'])[1 + (c.id + k) % 3],
           10 + (c.id * 7 + k * 13) % 200, ${NOW}::timestamptz - make_interval(days => ((c.id * k) % 60 + 1)::int)
    from customers c, generate_series(1, 3) as k`;
  const offers: Array<Partial<OfferValues>> = [
    {
      name: 'garden',
      category: 'garden',
      score: { var: ['spend_by_category.garden', 0] },
      exclude_if_bought_within_days: 5,
    },
    {
      name: 'wine',
      category: 'wine',
      score: { var: ['spend_by_category.wine', 0] },
      cap_per_customer_count: 1,
      cap_per_customer_days: 30,
    },
    { name: 'big', eligibility: { '>': [{ var: 'total_spent' }, 300] }, priority: 2 },
    {
      name: 'throws',
      eligibility: { if: [{ '==': [{ var: 'email' }, 'boom@example.com'] }, { throw: 'boom' }, true] },
      priority: 1,
    },
    { name: 'scarce', global_cap: 50, priority: 100 },
    { name: 'expired', valid_to: new Date('2026-01-01T00:00:00Z'), priority: 1000 },
    { name: 'fallback', fallback: true },
  ];
  for (const o of offers) await insertOffer(sql, values(o));
});
afterAll(async () => db.drop());

describe('decideOffersBatch', () => {
  it('decides for 1,200 customers at once, and a throwing rule only excludes its offer', async () => {
    const decisions = await decideOffersBatch(db.sql, {
      customerIds: ids,
      placements: 3,
      now: NOW,
      explain: true,
    });
    expect(decisions.size).toBe(N);
    const counts = new Map<string, number>();
    for (const [id, d] of decisions) {
      expect(d.offers.length).toBe(3);
      for (const o of d.offers) counts.set(o.name, (counts.get(o.name) ?? 0) + 1);
      const throws = d.excluded?.find((x) => x.name === 'throws');
      const isBoom = ids.indexOf(id) % 97 === 96;
      const codes = throws?.reasons.map((r) => r.code) ?? [];
      if (isBoom) expect(codes).toEqual(['rule_error']);
      else expect(codes).not.toContain('rule_error');
      expect(d.excluded?.find((x) => x.name === 'expired')?.reasons[0]?.code).toBe('expired');
    }
    expect(counts.get('scarce')).toBe(50);
    expect(counts.get('expired')).toBeUndefined();
  });

  it('gives each customer the same decision as deciding alone (without shared caps)', async () => {
    const catalogue = await loadCatalogue(db.sql);
    catalogue.offers = catalogue.offers.filter((o) => o.globalCap === null);
    const sample = ids.filter((_, i) => i % 60 === 0);
    const batch = await decideOffersBatch(db.sql, {
      customerIds: sample,
      placements: 2,
      now: NOW,
      catalogue,
    });
    for (const id of sample.slice(0, 8)) {
      const alone = await decideOffers(db.sql, { customerId: id, placements: 3, now: NOW });
      expect(alone?.offers.filter((o) => o.name !== 'scarce').slice(0, 2)).toEqual(batch.get(id)?.offers);
    }
    const again = await decideOffersBatch(db.sql, {
      customerIds: [...sample].reverse(),
      placements: 2,
      now: NOW,
      catalogue,
    });
    expect(again).toEqual(batch);
  });

  it('holds per-customer caps across campaigns once impressions are recorded', async () => {
    const id = ids[10]!;
    const before = await decideOffers(db.sql, { customerId: id, placements: 7, now: NOW, explain: true });
    const wine = before!.offers.find((o) => o.name === 'wine');
    expect(wine).toBeDefined();
    await recordOfferImpressions(db.sql, {
      customer_id: id,
      message_id: 77,
      offer_ids: [wine!.offer_id],
      campaign_id: 1,
      at: new Date(NOW.getTime() - 86_400_000),
    });
    const after = await decideOffers(db.sql, { customerId: id, placements: 7, now: NOW, explain: true });
    expect(after!.offers.map((o) => o.name)).not.toContain('wine');
    expect(after!.excluded?.find((x) => x.name === 'wine')?.reasons[0]?.code).toBe('customer_cap');
    // Outside the 30-day window the impression no longer counts.
    const later = await decideOffers(db.sql, {
      customerId: id,
      placements: 7,
      now: new Date(NOW.getTime() + 31 * 86_400_000),
    });
    expect(later!.offers.map((o) => o.name)).toContain('wine');
  });

  it('omits unknown customers and accepts an empty page', async () => {
    const d = await decideOffersBatch(db.sql, { customerIds: [ids[0]!, 987_654], placements: 1, now: NOW });
    expect([...d.keys()]).toEqual([ids[0]]);
    expect((await decideOffersBatch(db.sql, { customerIds: [], placements: 1, now: NOW })).size).toBe(0);
  });
});
