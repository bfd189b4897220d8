import type { Feed, RecommendationRow } from '../products/recommend-store.js';
import { formatMoney } from '../templates/locale.js';
import type { OfferProduct } from './schema.js';

// An offer about "one of your recommended products" is filled per customer from their stored
// feed: the same rows the {{> products}} block shows (rechecked for stock and for what was bought
// since), so an offer never names a product the block would not show.

/** The product an offer was filled with for one customer, as a template and explain see it. */
export interface FilledProduct {
  sku: string;
  title: string;
  price: number;
  currency: string;
  /** The price in the customer's locale (`€49.00`, `49,00 €`). */
  price_text: string;
  url: string | null;
  image_url: string | null;
  feed: Feed;
  /** The feed's reason for the product ("often bought with the sofa you bought on 3 March"). */
  reason: string;
  /** Its stored rank in the feed (kept on the ledger with the recommended items). */
  rank: number;
}

/** Rows a source may need to look through: its rank, or the whole feed (100) when it filters. */
const FILTERED_LIMIT = 100;

/** The feeds (and how deep) that a set of product offers reads, for one statement per batch. */
export function feedsNeeded(sources: readonly OfferProduct[]): { feed: Feed; limit: number }[] {
  return sources.map((s) => ({
    feed: s.feed,
    limit: s.skus !== undefined || s.category !== undefined ? FILTERED_LIMIT : s.rank,
  }));
}

/**
 * The customer's product for an offer: the `rank`-th row of its feed among those its filters
 * keep, or null when the feed has none (then the offer is not eligible for them).
 */
export function fillProduct(
  source: OfferProduct,
  rows: readonly RecommendationRow[],
  locale: string,
): FilledProduct | null {
  const skus = source.skus ? new Set(source.skus) : null;
  let seen = 0;
  for (const row of rows) {
    if (row.feed !== source.feed) continue;
    if (skus && !skus.has(row.sku)) continue;
    if (source.category !== undefined && row.category !== source.category) continue;
    if (++seen < source.rank) continue;
    const price = Number(row.price);
    return {
      sku: row.sku,
      title: row.title,
      price,
      currency: row.currency,
      price_text: formatMoney(price, row.currency, locale),
      url: row.url,
      image_url: row.image_url,
      feed: row.feed,
      reason: row.reason,
      rank: row.rank,
    };
  }
  return null;
}
