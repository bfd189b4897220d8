import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { ACCESS } from '../../http/roles.js';
import { compareCampaigns } from '../../reports/compare.js';
import { toCsv } from '../../reports/csv.js';
import { csvResponse } from '../../reports/routes.js';
import { api, apiResponse, must, UiError } from '../api.js';
import type { CampaignPage, OfferReport } from '../api-types.js';
import type { UiEnv } from '../env.js';
import { can, money, page, pct, Table, When } from '../kit.js';

// The analyst's pages: every report's CSV through the browser session, campaigns side by side
// over the same window, and the offers across campaigns and triggers.

/** The UI path that downloads a /v1/reports/… path as CSV in the browser session. */
export const csvHref = (apiPath: string) => `/ui/csv${apiPath.replace(/^\/v1/, '')}`;

export function CsvLink(props: { apiPath: string; label?: string }) {
  return (
    <a class="button secondary csv" href={csvHref(props.apiPath)} download>
      {props.label ?? 'Download CSV'}
    </a>
  );
}

const COMPARE_COLUMNS = [
  'id',
  'name',
  'status',
  'launched_at',
  'sent',
  'opens',
  'clicks',
  'conversions',
  'revenue',
  'open_rate',
  'click_rate',
  'conversion_rate',
  'revenue_per_recipient',
];

export function registerReportPages(ui: Hono<UiEnv>, app: App): void {
  const reportsOnly = (role: Parameters<typeof can>[0]) => {
    if (!can(role, ACCESS.reports)) throw new UiError(403, 'Your role may not read reports');
  };

  // Any report the API has, as CSV, with the session's role (the API checks it again).
  ui.get('/ui/csv/reports/*', async (c) => {
    const rest = c.req.path.slice('/ui/csv'.length);
    if (!/^\/reports\/[\w/-]+$/.test(rest)) throw new UiError(404, 'No such report');
    const query = new URLSearchParams(new URL(c.req.url).search);
    query.set('format', 'csv');
    const res = await apiResponse(app, c, 'GET', `/v1${rest}?${query}`);
    if (!res.ok)
      throw new UiError(
        res.status,
        res.status === 403 ? 'Your role may not read this report' : 'No such report',
      );
    return new Response(res.body, {
      headers: {
        'content-type': res.headers.get('content-type') ?? 'text/csv; charset=utf-8',
        'content-disposition': res.headers.get('content-disposition') ?? 'attachment; filename="report.csv"',
        'cache-control': 'no-store',
      },
    });
  });

  ui.get('/ui/reports', async (c) => {
    reportsOnly(c.var.auth.role);
    const list = must(await api<CampaignPage>(app, c, 'GET', '/v1/campaigns?limit=100'));
    const campaigns = list.data.filter((x) => x.status !== 'draft');
    return page(
      c,
      'Reports',
      <>
        <h1>Reports</h1>
        <section class="card" aria-labelledby="compare-h">
          <h2 id="compare-h">Compare campaigns</h2>
          <form method="get" action="/ui/reports/compare" id="compare-form" class="stack">
            <fieldset>
              <legend>Campaigns (two or more)</legend>
              {campaigns.length === 0 && <p class="muted">No campaign was launched yet.</p>}
              {campaigns.map((x) => (
                <label class="check">
                  <input type="checkbox" name="campaign" value={String(x.id)} /> {x.name}{' '}
                  <span class="muted">({x.status})</span>
                </label>
              ))}
            </fieldset>
            <div class="field">
              <label for="f-days">Days after each launch</label>
              <input id="f-days" name="days" type="number" min={1} max={365} value="7" />
            </div>
            <button type="submit">Compare</button>
          </form>
        </section>
        <section class="card" aria-labelledby="other-h">
          <h2 id="other-h">Across campaigns and triggers</h2>
          <ul class="plain">
            <li>
              <a href="/ui/reports/offers">Offers: shown, clicks, conversions and revenue</a>
            </li>
            <li>
              <a href={csvHref('/v1/reports/triggers')}>Triggers (CSV)</a>
            </li>
          </ul>
        </section>
      </>,
    );
  });

  ui.get('/ui/reports/compare', async (c) => {
    reportsOnly(c.var.auth.role);
    const ids = [...new Set(c.req.queries('campaign') ?? [])]
      .map(Number)
      .filter((n) => Number.isSafeInteger(n) && n > 0);
    const days = Math.min(365, Math.max(1, Number(c.req.query('days') ?? 7) || 7));
    if (ids.length < 2) throw new UiError(422, 'Choose at least two campaigns to compare');
    const currency = c.var.deps.config.REPORT_CURRENCY;
    const rows = await compareCampaigns(c.var.deps.sql, { ids: ids.slice(0, 10), days, currency });
    if (c.req.query('format') === 'csv')
      return csvResponse(
        toCsv(
          COMPARE_COLUMNS,
          rows.map((r) => ({ ...r, launched_at: r.launched_at?.toISOString() ?? '' })),
        ),
        'campaigns-compared.csv',
      );
    const best = (key: 'open_rate' | 'click_rate' | 'conversion_rate' | 'revenue_per_recipient') =>
      Math.max(...rows.map((r) => r[key]));
    const cell = (r: (typeof rows)[number], key: 'open_rate' | 'click_rate' | 'conversion_rate') => (
      <span class={rows.length > 1 && r[key] === best(key) && r[key] > 0 ? 'best' : undefined}>
        {pct(r[key])}
      </span>
    );
    const csv = new URLSearchParams(new URL(c.req.url).search);
    csv.set('format', 'csv');
    return page(
      c,
      'Compare campaigns',
      <>
        <p class="crumbs">
          <a href="/ui/reports">Reports</a> /
        </p>
        <div class="head">
          <h1>Compare campaigns</h1>
          <a class="button secondary csv" href={`/ui/reports/compare?${csv}`} download>
            Download CSV
          </a>
        </div>
        <section class="card" id="compare-table" data-campaigns={rows.map((r) => r.id).join(',')}>
          <p class="muted">
            The first {days} days after each launch; human opens and clicks; revenue in {currency}.
          </p>
          <Table
            columns={[
              { label: 'Campaign', cell: (r) => <a href={`/ui/campaigns/${r.id}`}>{r.name}</a> },
              {
                label: 'Launched',
                cell: (r) => <When iso={r.launched_at?.toISOString()} />,
              },
              { label: 'Sent', num: true, cell: (r) => r.sent.toLocaleString('en-GB') },
              { label: 'Open', num: true, cell: (r) => cell(r, 'open_rate') },
              { label: 'Click', num: true, cell: (r) => cell(r, 'click_rate') },
              { label: 'Conversion', num: true, cell: (r) => cell(r, 'conversion_rate') },
              { label: `Revenue (${currency})`, num: true, cell: (r) => money(r.revenue) },
              {
                label: `Per recipient (${currency})`,
                num: true,
                cell: (r) => money(r.revenue_per_recipient),
              },
            ]}
            rows={rows}
          />
        </section>
      </>,
    );
  });

  ui.get('/ui/reports/offers', async (c) => {
    reportsOnly(c.var.auth.role);
    const r = must(await api<OfferReport>(app, c, 'GET', '/v1/reports/offers'));
    return page(
      c,
      'Offers report',
      <>
        <p class="crumbs">
          <a href="/ui/reports">Reports</a> /
        </p>
        <div class="head">
          <h1>Offers report</h1>
          <CsvLink apiPath="/v1/reports/offers" />
        </div>
        <section class="card">
          <p class="muted">Every offer sent by campaigns and triggers; revenue in {r.currency}.</p>
          <Table
            columns={[
              { label: 'Offer', cell: (o) => <a href={`/ui/offers/${o.offer_id}`}>{o.name}</a> },
              { label: 'Category', cell: (o) => o.category ?? '—' },
              { label: 'Campaigns', num: true, cell: (o) => o.campaigns },
              { label: 'Shown', num: true, cell: (o) => o.shown },
              { label: 'Clicks', num: true, cell: (o) => o.clicks },
              { label: 'Click rate', num: true, cell: (o) => pct(o.click_rate) },
              { label: 'Conversions', num: true, cell: (o) => o.conversions },
              { label: `Revenue (${r.currency})`, num: true, cell: (o) => money(o.revenue) },
            ]}
            rows={r.data}
          />
        </section>
      </>,
    );
  });
}
