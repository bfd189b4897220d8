import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEEDS, type RecommendationRow } from '../products/recommend-store.js';
import { feedsNeeded, fillProduct } from './product-fill.js';

const row = fc.record({
  feed: fc.constantFrom(...FEEDS),
  rank: fc.integer({ min: 1, max: 100 }),
  sku: fc.constantFrom('A', 'B', 'C', 'D', 'E'),
  category: fc.constantFrom('textile', 'garden', null),
  price: fc.double({ min: 0, max: 10_000, noNaN: true }),
});
const source = fc.record(
  {
    feed: fc.constantFrom(...FEEDS),
    rank: fc.integer({ min: 1, max: 5 }),
    skus: fc.array(fc.constantFrom('A', 'B', 'C', 'D', 'E'), { minLength: 1, maxLength: 3 }),
    category: fc.constantFrom('textile', 'garden'),
  },
  { requiredKeys: ['feed', 'rank'] },
);

type Row = Pick<RecommendationRow, 'feed' | 'rank' | 'sku' | 'category' | 'price'>;

const full = (r: Row): RecommendationRow => ({
  ...r,
  score: 1,
  reason: 'because',
  title: `title ${r.sku}`,
  description: null,
  currency: 'EUR',
  brand: null,
  image_url: null,
  url: null,
});

describe('fillProduct', () => {
  it('is the rank-th row of the feed its filters keep, or null when there are fewer', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 30 }), source, (raw, s) => {
        const rows = raw.map(full);
        const kept = rows.filter(
          (r) =>
            r.feed === s.feed &&
            (s.skus === undefined || (s.skus as string[]).includes(r.sku)) &&
            (s.category === undefined || r.category === s.category),
        );
        const filled = fillProduct(s, rows, 'en-GB');
        if (kept.length < s.rank) expect(filled).toBeNull();
        else expect(filled).toMatchObject({ sku: kept[s.rank - 1]!.sku, rank: kept[s.rank - 1]!.rank });
      }),
    );
  });

  it('reads deep enough: a filtered source reads the whole feed, a plain one its rank', () => {
    expect(feedsNeeded([{ feed: 'replenish', rank: 3 }])).toEqual([{ feed: 'replenish', limit: 3 }]);
    expect(feedsNeeded([{ feed: 'replenish', rank: 1, category: 'garden' }])).toEqual([
      { feed: 'replenish', limit: 100 },
    ]);
  });

  it('prices in the customer’s locale', () => {
    const rows = [full({ feed: 'bought_together', rank: 1, sku: 'A', category: null, price: 1234.5 })];
    expect(fillProduct({ feed: 'bought_together', rank: 1 }, rows, 'en-GB')?.price_text).toBe('€1,234.50');
    expect(fillProduct({ feed: 'bought_together', rank: 1 }, rows, 'fr-FR')?.price_text).toMatch(
      /1\s234,50\s€/,
    );
  });
});
