import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
import { triggerMessageEvent } from '../events/store.js';
import {
  type ClaimedMessage,
  type OfferContent,
  offerContents,
  triggerMessageOrders,
} from '../messages/ledger.js';
import { compileSubject, loadTemplateVersion, renderForCustomer } from '../templates/render.js';
import { type MessageLinks, messageLinks } from '../tracking/links.js';
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

  return async function render(m: RenderableMessage): Promise<RenderedMessage> {
    const version = await loadTemplateVersion(deps.sql, m.template_id, m.template_version);
    const links = messageLinks(deps.config.PUBLIC_URL, deps.config.OFFERFLOW_SECRET, m.id);
    const content = await loadOffers(m.offer_ids);
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
    const data = {
      customer,
      offers: content.map((o, i) => ({
        offer_id: o.id,
        title: o.title,
        text: o.text,
        image_url: o.image_url,
        // The target rides in the signed link too, so a click reaches it with the database down.
        url: o.url ? links.offerUrl(i, o.url) : null,
        code: o.code,
      })),
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
    return { subject, html, webHtml: rendered.html, text: rendered.text, links };
  };
}

export type MessageRenderer = ReturnType<typeof createMessageRenderer>;
