// biome-ignore-all lint/suspicious/noExplicitAny: API JSON read here was validated by the API's own response schemas
import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { api, must } from '../api.js';
import type { UiEnv } from '../env.js';
import { money, page, pct, Table } from '../kit.js';
import { Chart } from './campaigns.js';

// What each automation earned: the trigger reports of /v1/reports/triggers, read-only.

export function registerTriggerReportPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/triggers', async (c) => {
    const { data } = must(await api(app, c, 'GET', '/v1/reports/triggers'));
    return page(
      c,
      'Triggers',
      <>
        <h1>Triggers</h1>
        <p class="muted">Automated emails and what they earned (human opens and clicks).</p>
        <Table
          rows={data as any[]}
          columns={[
            {
              label: 'Trigger',
              cell: (t: any) => (
                <a href={`/ui/triggers/${t.id}`}>
                  {t.name}
                  {t.deleted ? ' (deleted)' : t.enabled ? '' : ' (off)'}
                </a>
              ),
            },
            { label: 'Event', cell: (t: any) => t.event },
            { label: 'Sent', num: true, cell: (t: any) => t.sent },
            { label: 'Open', num: true, cell: (t: any) => pct(t.open_rate) },
            { label: 'Click', num: true, cell: (t: any) => pct(t.click_rate) },
            { label: 'Conversion', num: true, cell: (t: any) => pct(t.conversion_rate) },
            { label: 'Revenue', num: true, cell: (t: any) => money(t.revenue) },
          ]}
        />
      </>,
    );
  });

  ui.get('/ui/triggers/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const [report, series] = await Promise.all([
      api(app, c, 'GET', `/v1/reports/triggers/${id}`),
      api(app, c, 'GET', `/v1/reports/triggers/${id}/timeseries?interval=day`),
    ]);
    const r = must(report);
    const points = (series.ok ? series.body.data : []) as any[];
    const t = r.totals;
    return page(
      c,
      r.trigger.name,
      <>
        <p class="crumbs">
          <a href="/ui/triggers">Triggers</a> /
        </p>
        <h1>{r.trigger.name}</h1>
        <section class="card report" id="report">
          <div class="funnel">
            {(
              [
                ['sent', 'Sent'],
                ['delivered', 'Delivered'],
                ['opens', 'Opened'],
                ['clicks', 'Clicked'],
                ['conversions', 'Converted'],
              ] as const
            ).map(([key, label]) => (
              <div class="step">
                <span class="n">{Number(t[key]).toLocaleString('en-GB')}</span>
                <span class="muted">{label}</span>
                <span
                  class="bar"
                  style={`width:${t.sent ? Math.max(2, (100 * t[key]) / t.sent) : 0}%`}
                ></span>
              </div>
            ))}
            <div class="step">
              <span class="n">{money(t.revenue)}</span>
              <span class="muted">Revenue</span>
            </div>
          </div>
          <h3>Offers, by conversions and revenue</h3>
          <Table
            rows={[...r.offers].sort(
              (a: any, b: any) => b.conversions - a.conversions || b.revenue - a.revenue,
            )}
            columns={[
              { label: 'Offer', cell: (o: any) => o.name ?? `#${o.offer_id}` },
              { label: 'Shown', num: true, cell: (o: any) => o.sent },
              { label: 'Clicks', num: true, cell: (o: any) => o.clicks },
              { label: 'Conversions', num: true, cell: (o: any) => o.conversions },
              { label: 'Revenue', num: true, cell: (o: any) => money(o.revenue) },
            ]}
          />
          <h3>Over time (UTC, per day)</h3>
          <Chart
            id="timeseries"
            label="Sent, opens, clicks and conversions per day"
            config={{
              type: 'line',
              data: {
                labels: points.map((p) => p.bucket.slice(0, 10)),
                datasets: [
                  { label: 'Sent', data: points.map((p) => p.sent) },
                  { label: 'Opens', data: points.map((p) => p.opens) },
                  { label: 'Clicks', data: points.map((p) => p.clicks) },
                  { label: 'Conversions', data: points.map((p) => p.conversions) },
                ],
              },
            }}
          />
        </section>
      </>,
      { scripts: ['/ui/vendor/chart.js'] },
    );
  });
}
