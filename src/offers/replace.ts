import type { Db } from '../db/sql.js';
import { decideOffersBatch, loadCatalogue } from './decide.js';

/**
 * The next eligible offers for a mail that cannot show some of its planned ones (their code
 * pool ran dry, or the customer's product is gone, between planning and sending): the same
 * decision as the planner's, over the live catalogue less the offers the mail keeps and those
 * already found unshowable, so the best remaining offers take the empty places, in rank order.
 * The catalogue is loaded fresh: its free-code counts are what makes an emptied pool ineligible.
 */
export async function replacementOffers(
  sql: Db,
  input: {
    customerId: number;
    now: Date;
    keep: readonly number[];
    excluded: readonly number[];
    count: number;
  },
): Promise<number[]> {
  if (input.count <= 0) return [];
  const skip = new Set([...input.keep, ...input.excluded]);
  const catalogue = await loadCatalogue(sql);
  const decisions = await decideOffersBatch(sql, {
    customerIds: [input.customerId],
    placements: input.count,
    now: input.now,
    catalogue: { offers: catalogue.offers.filter((o) => !skip.has(o.id)) },
  });
  return decisions.get(input.customerId)?.offers.map((o) => o.offer_id) ?? [];
}
