import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
import { triggerMessageEvent } from '../events/store.js';
import { createBatcher } from '../messages/batcher.js';
import {
  type ClaimedMessage,
  type OfferContent,
  offerContents,
  type RecommendedItem,
  recordRecommended,
  triggerMessageOrders,
} from '../messages/ledger.js';
import { localizeOffer } from '../offers/translations.js';
import { type FeedAsk, selectFeedsMany } from '../products/recommend-store.js';
import { resolveLocale } from '../templates/locale.js';
import { productsKey } from '../templates/products-block.js';
import { compileSubject, loadTemplateVersion, renderForCustomer } from '../templates/render.js';
import { type MessageLinks, messageLinks } from '../tracking/links.js';
import { type Replacement, settleOffers } from './settle-offers.js';
import { journeyMessageEvent } from './store.js';

const OFFER_TTL_MS = 60_000;

export type RenderableMessage = Pick<
  ClaimedMessage,
  | 'id'
  | 'customer_id'
  | 'trigger_id'
  | 'journey_id'
  | 'template_id'
  | 'template_version'
  | 'offer_ids'
  | 'variant'
  | 'campaign_name'
  | 'campaign_variants'
  | 'customer'
>;

export interface RenderedMessage {
  subject: string;
  /** The HTML as mailed (with the open pixel) and as hosted (the web version, without it). */
  html: string;
  webHtml: string;
  text: string;
  links: MessageLinks;
  /** The unique code each pooled offer gave this message (offer id → code); empty when none. */
  codes: Record<string, string>;
  /** Pooled offers left out of this mail because their pool had no code left (in ledger order). */
  codesExhausted: number[];
  /** Product offers left out because the customer has no product for them any more. */
  noProduct: number[];
  /** The sku each product offer of the mail was filled with (offer id → sku); empty when none. */
  products: Record<string, string>;
  /** The offers the mail shows, in ledger order (differs from the row's when some were left out). */
  offerIds: number[];
  /** Offers left out, why, and which offer took each one's place. */
  replaced: Replacement[];
  /**
   * The products the mail's blocks and product offers showed, in link order (null when the
   * version has none): what `messages.recommended` must hold for clicks and purchases to count.
   */
  recommended: RecommendedItem[] | null;
}

/**
 * Renders ledger rows, for the sender and for the hosted web version: holds the offers it has
 * loaded and the compiled subject lines of variants, so that per message only rendering remains.
 */
export function createMessageRenderer(deps: {
  sql: Sql;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'PUBLIC_URL' | 'MAIL_POSTAL_ADDRESS'>;
}) {
  const offers = new Map<number, { offer: OfferContent; until: number }>();
  const subjects = new LRUCache<string, ReturnType<typeof compileSubject>>({ max: 500 });
  // The stored feeds of the mails rendered at once are read, and what they showed written, one
  // statement for many (a products block costs no round trip of its own per mail under load).
  const feedBatch = createBatcher((asks: FeedAsk[]) => selectFeedsMany(deps.sql, asks));
  const recommendedBatch = createBatcher(async (rows: { id: number; items: RecommendedItem[] }[]) => {
    await recordRecommended(deps.sql, rows);
    return rows.map(() => undefined);
  });

  async function loadOffers(ids: number[]): Promise<OfferContent[]> {
    const now = Date.now();
    const missing = ids.filter((id) => (offers.get(id)?.until ?? 0) < now);
    if (missing.length > 0) {
      for (const offer of await offerContents(deps.sql, missing))
        offers.set(offer.id, { offer, until: now + OFFER_TTL_MS });
    }
    return ids.map((id) => offers.get(id)?.offer).filter((o): o is OfferContent => o !== undefined);
  }

  /** A variant's subject, in the template sandbox and render budget (it was checked at save). */
  function subjectFor(source: string): ReturnType<typeof compileSubject> {
    let compiled = subjects.get(source);
    if (!compiled) {
      compiled = compileSubject(source, 'variant subject');
      subjects.set(source, compiled);
    }
    return compiled;
  }

  return async function render(
    m: RenderableMessage,
    options: {
      replaceAt?: Date | undefined;
      /**
       * Whether to write `recommended` on the row here (batched). The sender passes false and
       * writes it with the row's `sent` instead: one statement less per batch of mails, and one
       * row version less per mail.
       */
      recordRecommended?: boolean;
    } = {},
  ): Promise<RenderedMessage> {
    const version = await loadTemplateVersion(deps.sql, m.template_id, m.template_version);
    const links = messageLinks(deps.config.PUBLIC_URL, deps.config.OFFERFLOW_SECRET, m.id);
    // An automated email may speak of the order that fired it and of the latest one.
    const orders = m.trigger_id !== null ? await triggerMessageOrders(deps.sql, m) : undefined;
    // …and of the custom event that fired it ({{event.properties.cart_url}}).
    // (A journey's mail, of the event that entered the customer.)
    const event =
      m.trigger_id !== null
        ? await triggerMessageEvent(deps.sql, m.id)
        : m.journey_id !== null
          ? await journeyMessageEvent(deps.sql, m.id)
          : undefined;
    const { erased_at: _erased, ...customer } = m.customer;
    const locale = resolveLocale(customer.locale);
    // The offers the mail can show: products filled, codes claimed, and (when sending) the next
    // eligible offer in the place of one that found neither.
    const {
      content: shown,
      rows,
      filled,
      codes,
      codesExhausted,
      noProduct,
      replaced,
    } = await settleOffers(deps.sql, {
      messageId: m.id,
      customerId: m.customer_id,
      offerIds: m.offer_ids,
      blocks: version.productBlocks,
      locale,
      load: loadOffers,
      feeds: feedBatch,
      replaceAt: options.replaceAt,
    });
    const productsFeeds: Record<string, unknown[]> = {};
    // Each product's link is tracked by its position in `recommended` (the click names the sku);
    // two blocks (or a block and an offer) showing the same feed item share one position.
    const recommended: RecommendedItem[] = [];
    const position = new Map<string, number>();
    const positionOf = (r: { feed: string; rank: number; sku: string }) => {
      const key = `${r.feed}:${r.rank}`;
      let at = position.get(key);
      if (at === undefined) {
        at = recommended.push({ feed: r.feed, rank: r.rank, sku: r.sku }) - 1;
        position.set(key, at);
      }
      return at;
    };
    for (const block of version.productBlocks) {
      const items = rows.filter((r) => r.feed === block.feed).slice(0, block.count);
      productsFeeds[productsKey(block)] = items.map((r) => ({
        sku: r.sku,
        title: r.title,
        price: r.price,
        currency: r.currency,
        image_url: r.image_url,
        url: r.url ? links.productUrl(positionOf(r), r.url) : null,
        reason: r.reason,
      }));
    }
    const products: Record<string, string> = {};
    const offerProduct = (o: OfferContent) => {
      const p = filled.get(o.id);
      if (!p) return null;
      const at = positionOf(p);
      // The ledger names the offer the product filled, so that its purchase converts to it.
      recommended[at]!.offer_id ??= o.id;
      products[o.id] = p.sku;
      return { ...p, url: p.url ? links.productUrl(at, p.url) : null };
    };
    const offersData = shown.map((o, i) => {
      const wording = localizeOffer(o, locale);
      const product = o.product ? offerProduct(o) : null;
      // An offer about a product links to it unless it has its own page.
      const target = o.url ?? (product ? filled.get(o.id)!.url : null);
      return {
        offer_id: o.id,
        title: wording.title,
        text: wording.text,
        code_label: wording.code_label,
        image_url: o.image_url ?? product?.image_url ?? null,
        // The target rides in the signed link too, so a click reaches it with the database down.
        url: target ? links.offerUrl(i, target) : null,
        code: o.code_pool ? (codes[o.id] ?? null) : o.code,
        ...(product ? { product } : {}),
      };
    });
    const hasRecommended = recommended.length > 0 || version.productBlocks.length > 0;
    if (hasRecommended && options.recordRecommended !== false)
      await recommendedBatch({ id: m.id, items: recommended });
    const data = {
      customer,
      products_feeds: productsFeeds,
      offers: offersData,
      // `{{offer.product.title}}`: the mail's first offer about a product, else its first offer.
      offer: offersData.find((o) => o.product) ?? offersData[0] ?? null,
      unsubscribe_url: links.unsubscribeUrl,
      preferences_url: links.preferencesUrl,
      web_version_url: links.webVersionUrl,
      postal_address: deps.config.MAIL_POSTAL_ADDRESS ?? null,
      campaign: { name: m.campaign_name },
      ...(orders?.order ? { order: orders.order } : {}),
      ...(orders?.last_order ? { last_order: orders.last_order } : {}),
      ...(event ? { event } : {}),
    };
    const rendered = renderForCustomer(version, data as Parameters<typeof renderForCustomer>[1]);
    const variant = m.campaign_variants.find((v) => v.name === m.variant);
    const subject = variant?.subject ? subjectFor(variant.subject)(data) : rendered.subject;
    const pixel = `<img src="${links.openPixelUrl}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
    const html = rendered.html.includes('</body>')
      ? rendered.html.replace('</body>', `${pixel}</body>`)
      : rendered.html + pixel;
    return {
      subject,
      html,
      webHtml: rendered.html,
      text: rendered.text,
      links,
      codes,
      codesExhausted,
      noProduct,
      products,
      offerIds: shown.map((o) => o.id),
      replaced,
      recommended: hasRecommended ? recommended : null,
    };
  };
}

export type MessageRenderer = ReturnType<typeof createMessageRenderer>;
