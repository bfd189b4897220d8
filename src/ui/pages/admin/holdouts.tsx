import type { Context, Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { api, must } from '../../api.js';
import type { ControlGroup, WorkspaceSettings } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Csrf, type Errors, Field, FormErrors, fmtDate, num, page, Table } from '../../kit.js';
import { adminOnly } from './guard.js';

/**
 * /ui/holdouts: the global control group through /v1/settings (its percent and how often a new
 * one is drawn), a refresh now, and the groups drawn so far.
 */
export function registerHoldoutPages(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/holdouts', adminOnly);
  ui.use('/ui/holdouts/*', adminOnly);

  const render = async (
    c: Context<UiEnv>,
    state: {
      values?: Record<string, unknown>;
      errors?: Errors;
      detail?: string;
      notice?: string;
      status?: number;
    } = {},
  ) => {
    const [settings, groups] = await Promise.all([
      api<WorkspaceSettings>(app, c, 'GET', '/v1/settings'),
      api<{ data: ControlGroup[] }>(app, c, 'GET', '/v1/control-groups'),
    ]);
    const s = must(settings);
    const v = state.values ?? {
      holdout_percent: String(s.holdout_percent),
      holdout_refresh_days: s.holdout_refresh_days === null ? '' : String(s.holdout_refresh_days),
    };
    return page(
      c,
      'Holdouts',
      <>
        <h1>Holdouts</h1>
        {state.notice && (
          <p class="notice" role="status">
            {state.notice}
          </p>
        )}
        <section class="card" aria-labelledby="control-h">
          <h2 id="control-h">Global control group</h2>
          <p class="muted">
            Customers in it get no promotional mail at all (transactional triggers still reach them), so
            reports can show what all your mail together adds. Membership is drawn at random and kept until
            the next draw.
          </p>
          {s.control_group ? (
            <p id="control-now">
              In force: {s.control_group.percent} % of customers, drawn {fmtDate(s.control_group.started_at)}
              {s.control_group.next_refresh_at
                ? `; next draw ${fmtDate(s.control_group.next_refresh_at)}`
                : ''}
              .
            </p>
          ) : (
            <p id="control-now">None: every customer may be mailed.</p>
          )}
          <form method="post" action="/ui/holdouts" class="stack" id="holdout-form" novalidate>
            <Csrf token={c.var.csrf} />
            <FormErrors
              errors={state.errors}
              fields={['holdout_percent', 'holdout_refresh_days']}
              detail={state.detail}
            />
            <div class="row">
              <Field
                name="holdout_percent"
                label="Control group (%)"
                type="number"
                value={v.holdout_percent as string}
                errors={state.errors}
                attrs={{ min: 0, max: 50, step: 'any' }}
                hint="0 to 50; 0: none"
              />
              <Field
                name="holdout_refresh_days"
                label="Draw a new group every (days)"
                type="number"
                value={v.holdout_refresh_days as string}
                errors={state.errors}
                attrs={{ min: 1, max: 3650 }}
                hint="Empty: keep the group until you draw a new one"
              />
            </div>
            <button type="submit">Save</button>
          </form>
          <form method="post" action="/ui/holdouts/refresh">
            <Csrf token={c.var.csrf} />
            <button type="submit" class="secondary">
              Draw a new group now
            </button>
          </form>
        </section>
        <section class="card" aria-labelledby="groups-h">
          <h2 id="groups-h">Groups drawn</h2>
          <Table
            rows={must(groups).data}
            columns={[
              { label: 'Group', cell: (g) => `#${g.id}` },
              { label: 'Percent', num: true, cell: (g) => `${g.percent} %` },
              { label: 'From', cell: (g) => fmtDate(g.started_at) },
              { label: 'Until', cell: (g) => (g.ended_at ? fmtDate(g.ended_at) : 'in force') },
            ]}
          />
        </section>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/holdouts', (c) => render(c));

  ui.post('/ui/holdouts', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const body = {
      holdout_percent: num(form, 'holdout_percent') ?? 0,
      holdout_refresh_days: num(form, 'holdout_refresh_days') ?? null,
    };
    const res = await api<WorkspaceSettings>(app, c, 'PATCH', '/v1/settings', body);
    if (!res.ok)
      return render(c, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    return render(c, { notice: 'Saved.' });
  });

  ui.post('/ui/holdouts/refresh', async (c) => {
    must(await api<WorkspaceSettings>(app, c, 'POST', '/v1/settings/control-group/refresh'));
    return render(c, { notice: 'A new control group is drawn; the previous one stays on record.' });
  });
}
