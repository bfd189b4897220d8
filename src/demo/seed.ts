import { upsertCustomers } from '../customers/upsert.js';
import type { Sql } from '../db/sql.js';
import { createOffer } from '../offers/catalogue.js';
import { recordPurchases } from '../purchases/record.js';
import { installDefaultTemplates } from '../templates/render.js';
import { DEMO_OFFERS, DEMO_SEGMENT, demoCustomers, demoPurchases } from './shop.js';
import { ensureSegment, offerNames, seededCounts, setOfferImages, templatesByName } from './store.js';

export interface SeedResult {
  customers: number;
  purchases: number;
  offers: number;
  segmentId: number;
  templates: { id: number; name: string; latest_version: number }[];
  skipped: boolean;
}

/**
 * Seeds the sample shop through the same domain functions the API uses. Idempotent: customers
 * are upserted by external id, purchase lines by external line id, offers and the segment by
 * name; a complete earlier seed is detected and skipped.
 */
export async function seedShop(
  sql: Sql,
  now: Date,
  log: (line: string) => void,
  publicUrl = 'http://localhost:3000',
): Promise<SeedResult> {
  const customers = demoCustomers();
  const before = await seededCounts(sql);
  const skipped = before.customers >= customers.length && before.purchases > 0;
  let purchaseCount = before.purchases;
  if (!skipped) {
    log(`seeding ${customers.length} customers…`);
    for (let i = 0; i < customers.length; i += 500) {
      await sql.begin((tx) => upsertCustomers(tx, customers.slice(i, i + 500) as never));
    }
    const purchases = demoPurchases(customers, now);
    log(`seeding ${purchases.length} purchases over two years…`);
    for (let i = 0; i < purchases.length; i += 2000) {
      await sql.begin((tx) => recordPurchases(tx, purchases.slice(i, i + 2000) as never, now));
    }
    purchaseCount = purchases.length;
  }
  const existing = await offerNames(sql);
  const offers = DEMO_OFFERS.map((o) => ({ ...o, image_url: `${publicUrl}${o.image_url}` }));
  const missing = offers.filter((o) => !existing.has(o.name));
  if (missing.length > 0) {
    await sql.begin(async (tx) => {
      for (const offer of missing) await createOffer(tx, offer as never);
    });
  }
  // Offers seeded by an earlier run point at the pictures where this install serves them.
  await setOfferImages(sql, offers);
  await installDefaultTemplates(sql);
  const segmentId = await ensureSegment(sql, DEMO_SEGMENT);
  return {
    customers: customers.length,
    purchases: purchaseCount,
    offers: DEMO_OFFERS.length,
    segmentId,
    templates: await templatesByName(sql),
    skipped,
  };
}
