import type { Context, Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { api, must } from '../../api.js';
import type { Senders } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Checkbox, Csrf, type Errors, Field, FormErrors, page, str, Table } from '../../kit.js';
import { adminOnly } from './guard.js';

/** /ui/senders: sender identities through /v1/senders, with the DNS records each one needs. */
export function registerSenderPages(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/senders', adminOnly);

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
    const senders = must(await api<Senders>(app, c, 'GET', '/v1/senders?limit=100')).data;
    const v = state.values ?? {};
    return page(
      c,
      'Sender identities',
      <>
        <h1>Sender identities</h1>
        {state.notice && (
          <p class="notice" role="status">
            {state.notice}
          </p>
        )}
        <section class="card" aria-labelledby="senders-h">
          <h2 id="senders-h">Identities</h2>
          {senders.length === 0 && <p class="muted">None yet: mail goes from MAIL_FROM.</p>}
          {senders.map((s) => (
            <details class="sender">
              <summary>
                {s.from_name ? `${s.from_name} <${s.from_address}>` : s.from_address}
                {s.is_default ? ' · default' : ''}
                {s.dkim_domain ? ` · DKIM d=${s.dkim_domain}` : ' · no DKIM'}
              </summary>
              <Table
                columns={[
                  { label: 'Purpose', cell: (r) => r.purpose.toUpperCase() },
                  { label: 'Name', cell: (r) => <code>{r.name}</code> },
                  { label: 'TXT value', cell: (r) => <code class="small">{r.value}</code> },
                ]}
                rows={s.dns_records}
              />
            </details>
          ))}
        </section>
        <form method="post" action="/ui/senders" class="card stack" id="sender-form" novalidate>
          <h2>Add an identity</h2>
          <Csrf token={c.var.csrf} />
          <FormErrors
            errors={state.errors}
            fields={['from_address', 'from_name', 'reply_to', 'dkim_domain', 'dkim_selector']}
            detail={state.detail}
          />
          <div class="row">
            <Field
              name="from_address"
              label="From address"
              type="email"
              value={v.from_address as string}
              errors={state.errors}
              required
            />
            <Field name="from_name" label="From name" value={v.from_name as string} errors={state.errors} />
            <Field
              name="reply_to"
              label="Reply-To"
              type="email"
              value={v.reply_to as string}
              errors={state.errors}
            />
          </div>
          <div class="row">
            <Field
              name="dkim_domain"
              label="DKIM domain"
              value={v.dkim_domain as string}
              errors={state.errors}
            />
            <Field
              name="dkim_selector"
              label="DKIM selector"
              value={v.dkim_selector as string}
              errors={state.errors}
            />
          </div>
          <Checkbox
            name="is_default"
            label="The default sender"
            checked={v.is_default === 'on'}
            errors={state.errors}
          />
          <button type="submit">Add</button>
        </form>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/senders', (c) => render(c));

  ui.post('/ui/senders', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const body: Record<string, unknown> = { from_address: str(form, 'from_address') ?? '' };
    for (const name of ['from_name', 'reply_to', 'dkim_domain', 'dkim_selector']) {
      const value = str(form, name);
      if (value !== undefined) body[name] = value;
    }
    if (form.is_default === 'on') body.is_default = true;
    const res = await api<Senders['data'][number]>(app, c, 'POST', '/v1/senders', body);
    if (!res.ok)
      return render(c, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    return render(c, { notice: `Added ${res.body.from_address}; publish its DNS records below.` });
  });
}
