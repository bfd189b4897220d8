import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { ACCESS } from '../../http/roles.js';
import { type Localized, localize } from '../../products/localized.js';
import { api, must } from '../api.js';
import type { Product, ProductBuyers, ProductDetail, ProductRecommendedTo, Products } from '../api-types.js';
import type { UiEnv } from '../env.js';
import { can, page, Table, When } from '../kit.js';

// The catalogue for marketers: a searchable list and a page per product (its texts in every
// language, its attributes, who bought it, what is bought with it, to whom it is recommended).

const PAGE_SIZE = 50;

/** A price in its own currency, as the UI's readers (en-GB) write it; an unknown code as typed. */
export function priceText(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

/** Availability in words: a kept count, else the in-stock flag. */
export function stockText(p: Pick<Product, 'stock' | 'in_stock'>): string {
  if (p.stock !== null) return p.stock === 0 ? 'out of stock' : `${p.stock.toLocaleString('en-GB')} in stock`;
  return p.in_stock ? 'in stock' : 'out of stock';
}

const available = (p: Pick<Product, 'stock' | 'in_stock'>) => (p.stock !== null ? p.stock > 0 : p.in_stock);

/** What the UI calls a product: its English title (or its only one). */
const titleOf = (p: { title: Localized }) => localize(p.title, 'en') ?? '';

const personName = (c: {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  customer_id: number;
}) => [c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || `customer ${c.customer_id}`;

/** The feeds as a marketer reads them. */
export const FEED_LABELS: Record<string, string> = {
  bought_together: 'Often bought together',
  top_in_category: 'Best sellers in their categories',
  replenish: 'Due for a refill',
  new_arrivals: 'New in their categories',
};

const productHref = (sku: string) => `/ui/products/${encodeURIComponent(sku)}`;

/** Each locale's title and description (a plain string is one text for every language). */
function Translations(props: { title: Localized; description: Localized | null }) {
  const locales = new Set<string>();
  for (const v of [props.title, props.description])
    if (v && typeof v === 'object') for (const k of Object.keys(v)) locales.add(k);
  if (locales.size === 0) return <p class="muted">One text for every language (no translations given).</p>;
  const pick = (v: Localized | null, locale: string) =>
    v === null ? '—' : typeof v === 'string' ? v : (v[locale] ?? '—');
  return (
    <Table
      rows={[...locales].sort()}
      columns={[
        { label: 'Language', cell: (l) => <span lang={l}>{l}</span> },
        { label: 'Title', cell: (l) => <span lang={l}>{pick(props.title, l)}</span> },
        { label: 'Description', cell: (l) => <span lang={l}>{pick(props.description, l)}</span> },
      ]}
    />
  );
}

export function registerProductPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/products', async (c) => {
    const q = (c.req.query('q') ?? '').trim().slice(0, 200);
    const cursor = c.req.query('cursor');
    const stock = c.req.query('stock');
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (q) query.set('q', q);
    if (cursor) query.set('cursor', cursor);
    if (stock === 'in' || stock === 'out') query.set('in_stock', stock === 'in' ? 'true' : 'false');
    const list = must(await api<Products>(app, c, 'GET', `/v1/products?${query}`));
    const next = new URLSearchParams();
    if (q) next.set('q', q);
    if (stock) next.set('stock', stock);
    if (list.next_cursor) next.set('cursor', list.next_cursor);
    return page(
      c,
      'Products',
      <>
        <h1>Products</h1>
        <form method="get" action="/ui/products" class="search">
          <input
            type="search"
            name="q"
            value={q}
            placeholder="Sku or title"
            aria-label="Search products by sku or title"
          />
          <button type="submit">Search</button>
        </form>
        <p class="small">
          Show:{' '}
          {[
            ['', 'all'],
            ['in', 'in stock'],
            ['out', 'out of stock'],
          ].map(([value, label], i) => (
            <>
              {i > 0 ? ' · ' : ''}
              <a
                href={`/ui/products?${new URLSearchParams({ ...(q ? { q } : {}), ...(value ? { stock: value } : {}) })}`}
                aria-current={(stock ?? '') === value ? 'page' : undefined}
              >
                {label}
              </a>
            </>
          ))}
        </p>
        {list.data.length === 0 ? (
          <p class="muted" id="no-products">
            No product matches.
          </p>
        ) : (
          <Table
            rows={list.data}
            columns={[
              {
                label: 'Product',
                cell: (p) => (
                  <>
                    <a href={productHref(p.sku)}>{titleOf(p)}</a>
                    <br />
                    <small class="muted">{p.sku}</small>
                  </>
                ),
              },
              { label: 'Price', num: true, cell: (p) => priceText(p.price, p.currency) },
              {
                label: 'Stock',
                cell: (p) => (
                  <span class={available(p) ? 'badge ok' : 'badge no'}>
                    {p.active ? stockText(p) : 'inactive'}
                  </span>
                ),
              },
              { label: 'Category', cell: (p) => p.category ?? '—' },
            ]}
          />
        )}
        {list.next_cursor && (
          <p>
            <a class="button secondary" href={`/ui/products?${next}`} id="next-products">
              Next {PAGE_SIZE} products
            </a>
          </p>
        )}
      </>,
    );
  });

  ui.get('/ui/products/:sku', async (c) => {
    const sku = c.req.param('sku');
    const path = `/v1/products/${encodeURIComponent(sku)}`;
    const people = can(c.var.auth.role, ACCESS.customerRead);
    const [detail, buyers, recommended] = await Promise.all([
      api<ProductDetail>(app, c, 'GET', path),
      people ? api<ProductBuyers>(app, c, 'GET', `${path}/buyers?limit=20`) : undefined,
      people ? api<ProductRecommendedTo>(app, c, 'GET', `${path}/recommended-to?limit=20`) : undefined,
    ]);
    const p = must(detail);
    const attributes = Object.entries(p.attributes);
    return page(
      c,
      titleOf(p),
      <>
        <p class="crumbs">
          <a href="/ui/products">Products</a> /
        </p>
        <h1>{titleOf(p)}</h1>
        <div class="cards">
          <section class="card" aria-labelledby="product-h">
            <h2 id="product-h">Product</h2>
            <dl class="kv">
              <dt>Sku</dt>
              <dd class="break">{p.sku}</dd>
              <dt>Price</dt>
              <dd>{priceText(p.price, p.currency)}</dd>
              <dt>Stock</dt>
              <dd>{stockText(p)}</dd>
              <dt>Status</dt>
              <dd>{p.active ? 'active: may be recommended' : 'inactive: never recommended'}</dd>
              <dt>Category</dt>
              <dd>{p.category ?? '—'}</dd>
              <dt>Brand</dt>
              <dd>{p.brand ?? '—'}</dd>
              <dt>Margin</dt>
              <dd>{p.margin ?? '—'}</dd>
              <dt>Page</dt>
              <dd class="break">
                {p.url ? (
                  <a href={p.url} rel="noopener noreferrer">
                    {p.url}
                  </a>
                ) : (
                  '—'
                )}
              </dd>
              <dt>Updated</dt>
              <dd>
                <When iso={p.updated_at} />
              </dd>
            </dl>
          </section>
          <section class="card" aria-labelledby="buyers-h">
            <h2 id="buyers-h">Bought</h2>
            <p id="buyer-count">
              {p.buyers.customers.toLocaleString('en-GB')} customers ·{' '}
              {p.buyers.lines.toLocaleString('en-GB')} order lines
            </p>
            {!people && <p class="muted">Your role sees how many, not who.</p>}
            {buyers?.ok && buyers.body.data.length > 0 && (
              <ul class="plain" id="buyers">
                {buyers.body.data.map((b) => (
                  <li>
                    <a href={`/ui/customers/${b.customer_id}`}>{personName(b)}</a>{' '}
                    <span class="muted">
                      · {b.quantity.toLocaleString('en-GB')} bought, last <When iso={b.last_bought_at} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
        <section class="card" aria-labelledby="texts-h">
          <h2 id="texts-h">Texts by language</h2>
          <Translations title={p.title} description={p.description} />
        </section>
        <section class="card" aria-labelledby="attributes-h">
          <h2 id="attributes-h">Attributes</h2>
          {attributes.length === 0 ? (
            <p class="muted">No free attributes.</p>
          ) : (
            <dl class="kv" id="attributes">
              {attributes.map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd class="break">{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
                </>
              ))}
            </dl>
          )}
        </section>
        <section class="card" aria-labelledby="together-h">
          <h2 id="together-h">Bought together</h2>
          {p.bought_together.length === 0 ? (
            <p class="muted">No product is bought with it often enough yet.</p>
          ) : (
            <Table
              rows={p.bought_together}
              columns={[
                { label: 'Product', cell: (t) => <a href={productHref(t.sku)}>{t.sku}</a> },
                { label: 'Orders with both', num: true, cell: (t) => t.support.toLocaleString('en-GB') },
                { label: 'Lift', num: true, cell: (t) => `×${t.lift.toFixed(1)}` },
              ]}
            />
          )}
        </section>
        {recommended && (
          <section class="card" aria-labelledby="recommended-h" id="recommended-to">
            <h2 id="recommended-h">Recommended to</h2>
            {!recommended.ok || recommended.body.data.length === 0 ? (
              <p class="muted">No customer’s recommendations hold it at the moment.</p>
            ) : (
              <ul class="plain">
                {recommended.body.data.map((r) => (
                  <li>
                    <a href={`/ui/customers/${r.customer_id}`}>{personName(r)}</a>{' '}
                    <span class="muted">
                      · {FEED_LABELS[r.feed] ?? r.feed}, #{r.rank}
                    </span>
                    <br />
                    <small>{r.reason}</small>
                  </li>
                ))}
              </ul>
            )}
          </section>
        )}
      </>,
    );
  });
}
