import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { ACCESS } from '../../http/roles.js';
import { revenueByCurrency, unconverted } from '../../reports/currency.js';
import type { UiEnv } from '../env.js';
import { can, money, page, pct, When } from '../kit.js';
import { conversionsPerDay, recentCampaignRates } from '../store.js';
import { Chart } from './report-parts.js';

const rate = (n: number, d: number) => (d > 0 ? n / d : null);

export function registerDashboard(ui: Hono<UiEnv>, _app: App): void {
  ui.get('/ui', async (c) => {
    const role = c.var.auth.role;
    // Sales staff and integrators live on the customer card.
    if (!can(role, ACCESS.reports)) return c.redirect('/ui/customers', 303);
    const { sql, clock, config } = c.var.deps;
    const currency = config.REPORT_CURRENCY;
    const campaigns = await recentCampaignRates(sql, 10, currency);
    const ids = campaigns.map((x) => x.id);
    const [days, byCurrency] = await Promise.all([
      conversionsPerDay(sql, ids, clock(), 30, currency),
      revenueByCurrency(sql, { campaign_ids: ids }, currency),
    ]);
    const left = unconverted(byCurrency);
    return page(
      c,
      'Dashboard',
      <>
        <h1>Dashboard</h1>
        <section class="card">
          <h2>Recent campaigns</h2>
          <div class="scroll">
            <table id="recent-campaigns">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th>Status</th>
                  <th>Launched</th>
                  <th class="num">Sent</th>
                  <th class="num">Open</th>
                  <th class="num">Click</th>
                  <th class="num">Conversion</th>
                  <th class="num">Revenue ({currency})</th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((x) => (
                  <tr>
                    <td>
                      <a href={`/ui/campaigns/${x.id}`}>{x.name}</a>
                    </td>
                    <td>
                      <span class={`badge st-${x.status}`}>{x.status}</span>
                    </td>
                    <td>
                      <When iso={x.launched_at?.toISOString()} />
                    </td>
                    <td class="num">{x.sent.toLocaleString('en-GB')}</td>
                    <td class="num">{pct(rate(x.opened, x.sent))}</td>
                    <td class="num">{pct(rate(x.clicked, x.sent))}</td>
                    <td class="num">{pct(rate(x.converted, x.sent))}</td>
                    <td class="num">{money(x.revenue)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {campaigns.length === 0 && <p class="muted">No campaign yet.</p>}
          {left.length > 0 && (
            <p class="alert" data-unconverted={left.join(',')}>
              Revenue in {left.join(', ')} is not in these figures: no exchange rate to {currency} (set one
              with POST /v1/currency-rates).{' '}
              {byCurrency
                .filter((r) => r.converted === null)
                .map((r) => `${r.currency} ${money(r.revenue)}`)
                .join(' · ')}
            </p>
          )}
        </section>
        <section class="card">
          <h2>Conversions, last 30 days</h2>
          <Chart
            id="conversions"
            label="Conversions and revenue per day"
            config={{
              type: 'bar',
              data: {
                labels: days.map((d) => d.day.slice(5)),
                datasets: [
                  { label: 'Conversions', data: days.map((d) => d.conversions), yAxisID: 'y' },
                  {
                    label: `Revenue (${currency})`,
                    data: days.map((d) => d.revenue),
                    type: 'line',
                    yAxisID: 'y1',
                  },
                ],
              },
              options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: 'right' } } },
            }}
          />
        </section>
      </>,
      { scripts: ['/ui/vendor/chart.js'] },
    );
  });
}
