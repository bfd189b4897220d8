import type { Context, Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { api, must } from '../../api.js';
import type { Attribute, Attributes } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Checkbox, Csrf, type Errors, Field, FormErrors, page, str, Table } from '../../kit.js';
import { adminOnly } from './guard.js';

const TYPES = ['string', 'number', 'boolean', 'date', 'string_array'];

/** /ui/attributes: the attribute registry, through /v1/attributes (its validation and audit). */
export function registerAttributePages(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/attributes', adminOnly);

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
    const rows = must(await api<Attributes>(app, c, 'GET', '/v1/attributes')).data;
    const v = state.values ?? {};
    return page(
      c,
      'Attributes',
      <>
        <h1>Attributes</h1>
        {state.notice && (
          <p class="notice" role="status">
            {state.notice}
          </p>
        )}
        <form method="post" action="/ui/attributes" class="card stack" id="attribute-form" novalidate>
          <h2>Declare an attribute</h2>
          <Csrf token={c.var.csrf} />
          <FormErrors
            errors={state.errors}
            fields={['key', 'type', 'description', 'category', 'sensitive', 'purpose']}
            detail={state.detail}
          />
          <div class="row">
            <Field
              name="key"
              label="Key"
              value={v.key as string}
              errors={state.errors}
              hint="a-z, 0-9 and _"
              required
            />
            <Field
              name="type"
              label="Type"
              value={(v.type as string) ?? 'string'}
              options={TYPES.map((t) => ({ value: t, label: t }))}
              errors={state.errors}
            />
            <Field name="category" label="Category" value={v.category as string} errors={state.errors} />
          </div>
          <Field
            name="description"
            label="Description"
            value={v.description as string}
            errors={state.errors}
          />
          <Checkbox
            name="sensitive"
            label="Sensitive (a special category of personal data)"
            checked={v.sensitive === 'on'}
            errors={state.errors}
          />
          <Field
            name="purpose"
            label="Consent purpose"
            value={v.purpose as string}
            errors={state.errors}
            hint="The consent that allows using it; required when sensitive"
          />
          <button type="submit">Declare</button>
        </form>
        <section class="card" aria-labelledby="attributes-h">
          <h2 id="attributes-h">Registry</h2>
          <Table
            columns={[
              { label: 'Key', cell: (a) => <code>{a.key}</code> },
              { label: 'Type', cell: (a) => a.type },
              { label: 'Category', cell: (a) => a.category ?? '—' },
              { label: 'Description', cell: (a) => a.description ?? '—' },
              {
                label: 'Sensitive',
                cell: (a) => (a.sensitive ? `yes, for ${a.purpose ?? '—'}` : 'no'),
              },
            ]}
            rows={rows}
          />
        </section>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/attributes', (c) => render(c));

  ui.post('/ui/attributes', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const body: Record<string, unknown> = {
      key: str(form, 'key') ?? '',
      type: str(form, 'type') ?? 'string',
      sensitive: form.sensitive === 'on',
    };
    for (const name of ['description', 'category', 'purpose']) {
      const value = str(form, name);
      if (value !== undefined) body[name] = value;
    }
    const res = await api<Attribute>(app, c, 'POST', '/v1/attributes', body);
    if (!res.ok)
      return render(c, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    return render(c, { notice: `Declared ${res.body.key}.` });
  });
}
