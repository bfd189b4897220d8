import type { Sql } from '../db/sql.js';
import type { OfferContent } from '../messages/ledger.js';
import { claimCodes } from '../offers/code-store.js';
import { type FilledProduct, feedsNeeded, fillProduct } from '../offers/product-fill.js';
import { replacementOffers } from '../offers/replace.js';
import type { FeedAsk, RecommendationRow } from '../products/recommend-store.js';
import type { ProductBlock } from '../templates/products-block.js';

/** Why a planned offer could not be shown, and which offer took its place (if one did). */
export interface Replacement {
  offer_id: number;
  reason: 'codes_exhausted' | 'no_product';
  /** The offer shown in its place; absent when no other offer was eligible. */
  by?: number;
}

export interface SettledOffers {
  /** The offers the mail shows, in ledger order (a replacement in the place it took). */
  content: OfferContent[];
  /** The stored feed rows of the mail's products blocks and product offers. */
  rows: RecommendationRow[];
  /** Each product offer's product for this customer. */
  filled: Map<number, FilledProduct>;
  /** The unique code of each pooled offer shown. */
  codes: Record<string, string>;
  /** Planned or replacing offers left out: their pool was empty, or their product gone. */
  codesExhausted: number[];
  noProduct: number[];
  replaced: Replacement[];
}

// A replacement can itself find its pool emptied by a concurrent sender: a few rounds, then the
// place stays empty rather than a send deciding forever.
const MAX_ROUNDS = 3;

/**
 * The offers a mail can show, settled at send time: each product offer filled from the stored
 * feed (read with the products blocks', one statement), then each pooled offer's code claimed
 * (one statement). An offer that finds no product or no code leaves the mail; with `replaceAt`
 * (the sender's send, not a web view of a sent mail) the next eligible ranked offer takes its
 * place, settled the same way.
 */
export async function settleOffers(
  sql: Sql,
  input: {
    messageId: number;
    customerId: number;
    offerIds: readonly number[];
    blocks: readonly ProductBlock[];
    locale: string;
    load: (ids: number[]) => Promise<OfferContent[]>;
    /** Reads stored feeds (selectFeedsMany, batched across the mails rendered at once). */
    feeds: (ask: FeedAsk) => Promise<RecommendationRow[]>;
    replaceAt?: Date | undefined;
  },
): Promise<SettledOffers> {
  let slots = [...input.offerIds];
  const codesExhausted: number[] = [];
  const noProduct: number[] = [];
  const replaced: Replacement[] = [];
  for (let round = 1; ; round++) {
    const content = await input.load(slots);
    const productOffers = content.filter((o) => o.product);
    const asks = [
      ...input.blocks.map((b) => ({ feed: b.feed, limit: b.count })),
      ...feedsNeeded(productOffers.map((o) => o.product!)),
    ];
    const rows =
      asks.length > 0
        ? await input.feeds({ customerId: input.customerId, feeds: asks, locale: input.locale })
        : [];
    const filled = new Map<number, FilledProduct>();
    for (const o of productOffers) {
      const product = fillProduct(o.product!, rows, input.locale);
      if (product) filled.set(o.id, product);
    }
    // A product offer without its product is out before its code is claimed.
    const gone = new Map<number, Replacement['reason']>();
    for (const o of productOffers) if (!filled.has(o.id)) gone.set(o.id, 'no_product');
    // A pooled offer's code is this message's own, claimed once: a retry reads back the same.
    const claimed = await claimCodes(sql, {
      messageId: input.messageId,
      offerIds: content.filter((o) => o.code_pool && !gone.has(o.id)).map((o) => o.id),
      customerId: input.customerId,
    });
    for (const o of content)
      if (o.code_pool && !gone.has(o.id) && !claimed.has(o.id)) gone.set(o.id, 'codes_exhausted');
    const settled = () => ({
      content: content.filter((o) => !gone.has(o.id)),
      rows,
      filled,
      codes: Object.fromEntries(claimed),
      codesExhausted,
      noProduct,
      replaced,
    });
    if (gone.size === 0) return settled();
    for (const [id, reason] of gone) (reason === 'no_product' ? noProduct : codesExhausted).push(id);
    const keep = slots.filter((id) => !gone.has(id));
    const by =
      input.replaceAt && round < MAX_ROUNDS
        ? await replacementOffers(sql, {
            customerId: input.customerId,
            now: input.replaceAt,
            keep,
            excluded: [...codesExhausted, ...noProduct],
            count: gone.size,
          })
        : [];
    let next = 0;
    slots = slots.flatMap((id) => {
      const reason = gone.get(id);
      if (reason === undefined) return [id];
      const other = by[next++];
      replaced.push({ offer_id: id, reason, ...(other !== undefined ? { by: other } : {}) });
      return other !== undefined ? [other] : [];
    });
    // No offer took a place: what is left is settled already.
    if (by.length === 0) return settled();
  }
}
