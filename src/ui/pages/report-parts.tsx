import type { CampaignReport, TimeseriesPoint } from '../api-types.js';
import { money, pct, Table } from '../kit.js';

type Metrics = CampaignReport['totals'];
type OfferMetrics = CampaignReport['offers'][number];
type CurrencyReport = Pick<CampaignReport, 'currency' | 'revenue_by_currency'>;

// The pieces a campaign's report and a trigger's report share: the funnel, the offers by
// result, and the activity over time.

/** A chart drawn by app.js with Chart.js (served from node_modules). */
export const Chart = (props: { id: string; config: unknown; label: string; hours?: string[] }) => (
  <div class="chart">
    <canvas
      id={props.id}
      role="img"
      aria-label={props.label}
      data-chart={JSON.stringify(props.config)}
      data-hours={props.hours ? JSON.stringify(props.hours) : undefined}
    ></canvas>
  </div>
);

const FUNNEL: Array<[keyof Metrics & ('sent' | 'delivered' | 'opens' | 'clicks' | 'conversions'), string]> = [
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['opens', 'Opened'],
  ['clicks', 'Clicked'],
  ['conversions', 'Converted'],
];

/** Sent → delivered → opened → clicked → converted, each with a bar relative to sent, and the revenue. */
export function Funnel(props: { totals: Metrics; currency?: string }) {
  const t = props.totals;
  return (
    <div class="funnel">
      {FUNNEL.map(([key, label]) => (
        <div class="step">
          <span class="n">{Number(t[key]).toLocaleString('en-GB')}</span>
          <span class="muted">{label}</span>
          <span class="bar" style={`width:${t.sent ? Math.max(2, (100 * t[key]) / t.sent) : 0}%`}></span>
        </div>
      ))}
      <div class="step">
        <span class="n">{money(t.revenue)}</span>
        <span class="muted">Revenue{props.currency ? ` (${props.currency})` : ''}</span>
      </div>
    </div>
  );
}

/** The revenue a report could not convert to its currency (no rate): named with its own figure, never added. */
export function UnconvertedRevenue(props: { report: CurrencyReport }) {
  const rows = props.report.revenue_by_currency.filter((r) => r.converted === null);
  if (rows.length === 0) return null;
  return (
    <p class="alert" data-unconverted={rows.map((r) => r.currency).join(',')}>
      Not in the revenue above (no exchange rate to {props.report.currency}):{' '}
      {rows.map((r) => `${r.currency} ${money(r.revenue)}`).join(' · ')}
    </p>
  );
}

/** The offers sent, best first by conversions then revenue. */
export function OfferResults(props: { offers: OfferMetrics[]; currency?: string }) {
  return (
    <>
      <h3>Offers, by conversions and revenue</h3>
      <Table
        rows={[...props.offers].sort((a, b) => b.conversions - a.conversions || b.revenue - a.revenue)}
        columns={[
          { label: 'Offer', cell: (o: OfferMetrics) => o.name ?? `#${o.offer_id}` },
          { label: 'Shown', num: true, cell: (o: OfferMetrics) => o.sent },
          { label: 'Clicks', num: true, cell: (o: OfferMetrics) => o.clicks },
          { label: 'Conversions', num: true, cell: (o: OfferMetrics) => o.conversions },
          {
            label: props.currency ? `Revenue (${props.currency})` : 'Revenue',
            num: true,
            cell: (o: OfferMetrics) => money(o.revenue),
          },
        ]}
      />
    </>
  );
}

type ProductMetrics = CampaignReport['recommendations']['products'][number];

/** What the products blocks earned, per recommended product (only when the mail had some). */
export function RecommendedProductResults(props: { products: ProductMetrics[]; currency?: string }) {
  if (props.products.length === 0) return null;
  return (
    <>
      <h3>Recommended products</h3>
      <Table
        rows={props.products}
        columns={[
          { label: 'Product', cell: (p: ProductMetrics) => p.title ?? p.sku },
          { label: 'Shown', num: true, cell: (p: ProductMetrics) => p.shown },
          { label: 'Clicks', num: true, cell: (p: ProductMetrics) => p.clicks },
          { label: 'Bought', num: true, cell: (p: ProductMetrics) => p.conversions },
          {
            label: props.currency ? `Revenue (${props.currency})` : 'Revenue',
            num: true,
            cell: (p: ProductMetrics) => money(p.revenue),
          },
        ]}
      />
    </>
  );
}

type ReplacedOffer = CampaignReport['replacements']['offers'][number];

const mailsText = (n: number) => `${n.toLocaleString('en-GB')} ${n === 1 ? 'mail' : 'mails'}`;
const offerName = (o: { offer_id: number; name: string | null }) =>
  o.name ? `“${o.name}”` : `Offer #${o.offer_id}`;

/** Why an offer was left out, in a marketer's words (each reason with its count when there are two). */
function reasonsText(o: ReplacedOffer): string {
  const reasons: Array<[number, string]> = [
    [o.reasons.codes_exhausted, 'its unique codes ran out'],
    [
      o.reasons.no_product,
      'the recommended product was no longer available (out of stock, withdrawn or already bought)',
    ],
  ];
  const given = reasons.filter(([n]) => n > 0);
  if (given.length === 1) return given[0]![1];
  return given.map(([n, text]) => `${text} (${mailsText(n)})`).join('; ');
}

/**
 * Offers planned for some mails that the sender had to swap at send time (an emptied code pool,
 * a product gone since planning): which, why, and which offer went out instead.
 */
export function ReplacedOffers(props: { replacements: CampaignReport['replacements'] }) {
  if (props.replacements.offers.length === 0) return null;
  return (
    <>
      <h3>Offers changed at send time</h3>
      <p class="muted">
        These offers were chosen when the campaign was planned but could not be shown when the mail went out;
        the next best offer for each customer was sent instead.
      </p>
      <ul class="replacements">
        {props.replacements.offers.map((o) => (
          <li data-offer={o.offer_id}>
            {offerName(o)} was left out of {mailsText(o.mails)}: {reasonsText(o)}.
            {o.replaced_by.length > 0 &&
              ` ${o.replaced_by.map((b) => `${offerName(b)} took its place in ${mailsText(b.mails)}`).join(', ')}.`}
            {o.not_replaced > 0 &&
              ` ${mailsText(o.not_replaced)} went out with one offer fewer: no other offer was eligible.`}
          </li>
        ))}
      </ul>
    </>
  );
}

/** Sent, opens, clicks and conversions per hour or per day (UTC buckets of a timeseries report). */
export function Activity(props: { points: TimeseriesPoint[]; interval: 'hour' | 'day' }) {
  const { points, interval } = props;
  const label = (bucket: string) =>
    interval === 'hour' ? bucket.slice(5, 16).replace('T', ' ') : bucket.slice(0, 10);
  return (
    <>
      <h3>{interval === 'hour' ? 'Over time (per hour, in your time zone)' : 'Over time (per UTC day)'}</h3>
      <Chart
        id="timeseries"
        label={`Sent, opens, clicks and conversions per ${interval}`}
        // Hourly buckets are instants: app.js relabels them in the viewer's zone (days stay UTC
        // days, which a time zone would split, not move).
        {...(interval === 'hour' ? { hours: points.map((p) => p.bucket) } : {})}
        config={{
          type: 'line',
          data: {
            labels: points.map((p) => label(p.bucket)),
            datasets: [
              { label: 'Sent', data: points.map((p) => p.sent) },
              { label: 'Opens', data: points.map((p) => p.opens) },
              { label: 'Clicks', data: points.map((p) => p.clicks) },
              { label: 'Conversions', data: points.map((p) => p.conversions) },
            ],
          },
        }}
      />
    </>
  );
}

type Incremental = CampaignReport['incremental'];

const points = (n: number | null) => (n === null ? '—' : `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)} pts`);

const VERDICTS: Record<Incremental['verdict'], string> = {
  lift: 'The mail raised conversion: the whole 95 % interval is above zero.',
  negative: 'The mail lowered conversion: the whole 95 % interval is below zero.',
  no_detectable_difference: 'No difference the sample can tell from chance.',
  not_enough_data: 'Too few buyers yet to tell (each group needs at least 5 who bought and 5 who did not).',
  no_holdout: 'No one was held out, so the lift cannot be measured: set a holdout to measure it.',
};

/**
 * What the mail changed: the mailed customers against the held-out ones over the same days
 * from planning, whatever they clicked, beside the last-touch figures above it.
 */
export function IncrementalResults(props: { inc: Incremental }) {
  const { inc } = props;
  const ci = inc.lift.ci95;
  return (
    <div id="incremental">
      <h3>Incremental (against the holdout, {inc.window_days} days)</h3>
      <p class={inc.verdict === 'lift' ? 'notice' : 'muted'} data-verdict={inc.verdict}>
        {VERDICTS[inc.verdict]}
        {inc.lift.absolute !== null &&
          ` Conversion ${points(inc.lift.absolute)}${ci ? ` (95 %: ${points(ci[0])} to ${points(ci[1])})` : ''}; about ${Math.round(inc.incremental_conversions ?? 0).toLocaleString('en-GB')} extra buyers and ${money(inc.incremental_revenue)} ${inc.currency} extra revenue.`}
        {inc.min_detectable_effect.conversion_rate !== null &&
          ` The smallest lift these groups can detect: ${points(inc.min_detectable_effect.conversion_rate)}.`}
      </p>
      <Table
        rows={[
          { group: 'Mailed', ...inc.treated },
          { group: 'Held out', ...inc.holdout },
        ]}
        columns={[
          { label: 'Group', cell: (g) => g.group },
          { label: 'Customers', num: true, cell: (g) => g.customers.toLocaleString('en-GB') },
          { label: 'Bought', num: true, cell: (g) => g.conversions.toLocaleString('en-GB') },
          { label: 'Conversion', num: true, cell: (g) => pct(g.conversion_rate) },
          {
            label: `Revenue per customer (${inc.currency})`,
            num: true,
            cell: (g) => money(g.revenue_per_customer),
          },
        ]}
      />
    </div>
  );
}
