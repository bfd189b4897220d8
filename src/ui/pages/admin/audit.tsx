import type { Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { api, must } from '../../api.js';
import type { AuditPage } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Field, page, Table, When } from '../../kit.js';
import { adminOnly } from './guard.js';

const FILTERS = ['customer_id', 'entity', 'action', 'since', 'cursor'] as const;

/** /ui/audit: the audit log through /v1/audit, with its filters, a page at a time. */
export function registerAuditPage(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/audit', adminOnly);

  ui.get('/ui/audit', async (c) => {
    const query = new URLSearchParams({ limit: '50' });
    const values: Record<string, string> = {};
    for (const name of FILTERS) {
      const value = c.req.query(name)?.trim();
      if (value) {
        values[name] = value;
        // A date typed in the filter means its start, in UTC.
        query.set(name, name === 'since' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
      }
    }
    const res = await api<AuditPage>(app, c, 'GET', `/v1/audit?${query}`);
    const body = res.ok ? res.body : must(await api<AuditPage>(app, c, 'GET', '/v1/audit?limit=50'));
    const next = new URLSearchParams(values);
    if (body.next_cursor) next.set('cursor', body.next_cursor);
    return page(
      c,
      'Audit log',
      <>
        <h1>Audit log</h1>
        <form method="get" action="/ui/audit" class="card stack" id="audit-filters">
          {!res.ok && (
            <p class="alert" role="alert">
              {res.errors.map((e) => `${e.path}: ${e.message}`).join('; ') || res.detail}
            </p>
          )}
          <div class="row">
            <Field name="customer_id" label="Customer id" type="number" value={values.customer_id} />
            <Field name="entity" label="Kind of object" value={values.entity} hint="customer, campaign…" />
            <Field name="action" label="Action" value={values.action} hint="customer.export…" />
            <Field name="since" label="Since" type="date" value={values.since} />
          </div>
          <button type="submit">Filter</button>
        </form>
        <section class="card" aria-labelledby="audit-h">
          <h2 id="audit-h">Entries</h2>
          <Table
            columns={[
              { label: 'When', cell: (e) => <When iso={e.at} /> },
              { label: 'Who', cell: (e) => e.actor ?? '—' },
              { label: 'Action', cell: (e) => <code>{e.action}</code> },
              { label: 'Object', cell: (e) => `${e.entity}${e.entity_id ? ` ${e.entity_id}` : ''}` },
              {
                label: 'Customer',
                cell: (e) =>
                  e.customer_id ? <a href={`/ui/customers/${e.customer_id}`}>{e.customer_id}</a> : '—',
              },
              { label: 'Details', cell: (e) => <code class="small">{JSON.stringify(e.data)}</code> },
            ]}
            rows={body.data}
          />
          {body.next_cursor && (
            <p>
              <a href={`/ui/audit?${next}`}>Older entries</a>
            </p>
          )}
        </section>
      </>,
    );
  });
}
