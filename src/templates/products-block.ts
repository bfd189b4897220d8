/**
 * The `{{> products feed="bought_together" count=3}}` block: recommended products (image,
 * title, price in the customer's currency format, button). The renderer loads each block's
 * feed for the recipient into `products_feeds["<feed>_<count>"]`; the block is inlined into the
 * program (program.ts) reading that key, so Handlebars itself never sees partial arguments.
 */

/** The feeds a block may name (the recommendation feeds of src/products). */
export const PRODUCT_FEEDS = ['bought_together', 'top_in_category', 'replenish', 'new_arrivals'] as const;
export type ProductFeed = (typeof PRODUCT_FEEDS)[number];
export const MAX_PRODUCTS_PER_BLOCK = 12;
export const DEFAULT_PRODUCTS_PER_BLOCK = 3;

export interface ProductBlock {
  feed: ProductFeed;
  count: number;
}

/** The data key a block reads. */
export const productsKey = (block: ProductBlock) => `${block.feed}_${block.count}`;

const KEY = '@@KEY@@';

// Same button markup as the offers block (see environment.ts for why).
const HTML = `{{#if products_feeds.${KEY}.length}}<table role="presentation" class="offerflow-products" width="100%" border="0" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;">
{{#each products_feeds.${KEY}}}<tr><td style="padding:16px 0;border-top:1px solid #e6e6e6;font-family:Helvetica,Arial,sans-serif;">
{{#if image_url}}<a href="{{url}}" target="_blank"><img src="{{image_url}}" alt="{{title}}" width="275" height="275" style="display:block;width:100%;max-width:275px;height:auto;border:0;border-radius:6px;" /></a>{{/if}}
<p style="margin:12px 0 4px;font-size:17px;line-height:23px;font-weight:bold;color:#1a1a1a;">{{title}}</p>
<p style="margin:0 0 10px;font-size:16px;line-height:22px;color:#1a1a1a;">{{money price currency}}</p>
{{#if url}}<table role="presentation" border="0" cellpadding="0" cellspacing="0" style="border-collapse:separate;line-height:100%;"><tr><td align="center" bgcolor="#1a1a1a" role="presentation" valign="middle" style="border:none;border-radius:4px;cursor:auto;mso-padding-alt:10px 20px;background:#1a1a1a;"><a href="{{url}}" target="_blank" style="display:inline-block;background:#1a1a1a;color:#ffffff;font-family:Helvetica,Arial,sans-serif;font-size:15px;font-weight:bold;line-height:20px;margin:0;text-decoration:none;padding:10px 20px;mso-padding-alt:0px;border-radius:4px;">{{t "offer.cta"}}</a></td></tr></table>{{/if}}
</td></tr>{{/each}}</table>{{/if}}`;

const TEXT = `{{#each products_feeds.${KEY}}}
* {{title}}: {{money price currency}}
{{url}}

{{/each}}`;

/** The block's source for one (feed, count), HTML or text. */
export function productsSource(block: ProductBlock, mode: 'html' | 'text'): string {
  return (mode === 'html' ? HTML : TEXT).replaceAll(KEY, productsKey(block));
}

const BLOCK = /\{\{>\s*products\b([^}]*)\}\}/g;
const FEED_ARG = /\bfeed\s*=\s*["']([a-z_]+)["']/;
const COUNT_ARG = /\bcount\s*=\s*(\d+)/;

/** The blocks a template source holds (validated at save by policy.ts, so read leniently here). */
export function productBlocksIn(source: string): ProductBlock[] {
  const blocks = new Map<string, ProductBlock>();
  for (const match of source.matchAll(BLOCK)) {
    const args = match[1] ?? '';
    const feed = (FEED_ARG.exec(args)?.[1] ?? 'bought_together') as ProductFeed;
    if (!PRODUCT_FEEDS.includes(feed)) continue;
    const count = Math.min(
      MAX_PRODUCTS_PER_BLOCK,
      Number(COUNT_ARG.exec(args)?.[1] ?? DEFAULT_PRODUCTS_PER_BLOCK),
    );
    const block = { feed, count };
    blocks.set(productsKey(block), block);
  }
  return [...blocks.values()];
}
