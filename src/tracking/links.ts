import { signToken } from './tokens.js';

/**
 * Link indexes inside one message. Offers are numbered from OFFER_LINK_BASE in the order of
 * `messages.offer_ids`, so the click route resolves `offer_ids[linkIndex - OFFER_LINK_BASE]`
 * and redirects to that offer's stored url.
 */
export const LINK = { open: 0, unsubscribe: 1, preferences: 2, web: 3 } as const;
export const OFFER_LINK_BASE = 16;
/**
 * Recommended products (the `{{> products}}` blocks) are numbered from PRODUCT_LINK_BASE in the
 * order of `messages.recommended`, so a click resolves the product (its sku) it was shown for.
 * Far above the offers: a message never carries thousands of offers.
 */
export const PRODUCT_LINK_BASE = 4096;

/** The position in `messages.offer_ids` a click link points to, or null if it is not an offer link. */
export function offerPositionOfLink(linkIndex: number): number | null {
  return linkIndex >= OFFER_LINK_BASE && linkIndex < PRODUCT_LINK_BASE ? linkIndex - OFFER_LINK_BASE : null;
}

/** The position in `messages.recommended` a click link points to, or null if it is not a product link. */
export function productPositionOfLink(linkIndex: number): number | null {
  return linkIndex >= PRODUCT_LINK_BASE ? linkIndex - PRODUCT_LINK_BASE : null;
}

export interface MessageLinks {
  openPixelUrl: string;
  unsubscribeUrl: string;
  preferencesUrl: string;
  /** One-click unsubscribe address for `List-Unsubscribe` (RFC 8058 POSTs here). */
  oneClickUrl: string;
  /** The hosted web version ("view in browser"), `/w/{token}`. */
  webVersionUrl: string;
  /** The click link of the offer at `position`; with `target`, the token carries it (signed). */
  offerUrl(position: number, target?: string): string;
  /** The click link of the recommended product at `position` of `messages.recommended`. */
  productUrl(position: number, target: string): string;
}

/** Every signed URL one message carries: `/t/o/{token}`, `/t/c/{token}`, `/u/{token}`, `/w/{token}`. */
export function messageLinks(publicUrl: string, secret: string, messageId: number): MessageLinks {
  const base = publicUrl.replace(/\/$/, '');
  const unsubscribe = signToken(secret, 'unsubscribe', { messageId, linkIndex: LINK.unsubscribe });
  return {
    openPixelUrl: `${base}/t/o/${signToken(secret, 'open', { messageId, linkIndex: LINK.open })}`,
    unsubscribeUrl: `${base}/u/${unsubscribe}`,
    oneClickUrl: `${base}/u/${unsubscribe}`,
    // The preference page acts on the same subscription, so it takes the unsubscribe token.
    preferencesUrl: `${base}/u/${unsubscribe}/preferences`,
    webVersionUrl: `${base}/w/${signToken(secret, 'web', { messageId, linkIndex: LINK.web })}`,
    offerUrl: (position: number, target?: string) =>
      `${base}/t/c/${signToken(secret, 'click', {
        messageId,
        linkIndex: OFFER_LINK_BASE + position,
        ...(target !== undefined ? { target } : {}),
      })}`,
    productUrl: (position: number, target: string) =>
      `${base}/t/c/${signToken(secret, 'click', { messageId, linkIndex: PRODUCT_LINK_BASE + position, target })}`,
  };
}
