import type { Context, Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { api, must, UiError } from '../../api.js';
import type { Attribute, Attributes } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Checkbox, Csrf, type Errors, Field, FormErrors, page, str, Table } from '../../kit.js';
import { adminOnly } from './guard.js';

const TYPES = ['string', 'number', 'boolean', 'date', 'string_array'];

/** /ui/attributes: the attribute registry, through /v1/attributes (its validation and audit). */
export function registerAttributePages(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/attributes', adminOnly);
  ui.use('/ui/attributes/*', adminOnly);

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
          <p class="notice" role="status" id="attributes-notice">
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
              {
                label: 'Key',
                cell: (a) => (
                  <a href={`/ui/attributes/${encodeURIComponent(a.key)}`} aria-label={`Edit ${a.key}`}>
                    <code>{a.key}</code>
                  </a>
                ),
              },
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

  /** One attribute's edit form: its description and category, sensitive with its purpose. */
  const renderEdit = async (
    c: Context<UiEnv>,
    key: string,
    state: { values?: Record<string, unknown>; errors?: Errors; detail?: string; status?: number } = {},
  ) => {
    const rows = must(await api<Attributes>(app, c, 'GET', '/v1/attributes')).data;
    const a = rows.find((r) => r.key === key);
    if (!a) throw new UiError(404, `No attribute ${key}`);
    const v = state.values ?? {
      description: a.description,
      category: a.category,
      sensitive: a.sensitive ? 'on' : undefined,
      purpose: a.purpose,
    };
    return page(
      c,
      `Attribute ${a.key}`,
      <form
        method="post"
        action={`/ui/attributes/${encodeURIComponent(a.key)}`}
        class="card stack narrow"
        id="attribute-edit-form"
        novalidate
      >
        <h1>
          Attribute <code>{a.key}</code>
        </h1>
        <p class="muted">Type {a.type}; the key and type stay as declared (stored values rely on them).</p>
        <Csrf token={c.var.csrf} />
        <FormErrors
          errors={state.errors}
          fields={['description', 'category', 'sensitive', 'purpose']}
          detail={state.detail}
        />
        <Field name="description" label="Description" value={v.description as string} errors={state.errors} />
        <Field
          name="category"
          label="Category"
          value={v.category as string}
          errors={state.errors}
          hint="A special category (health, religion…) must be sensitive"
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
          hint="Empty: the category’s own purpose (sensitive:health…)"
        />
        <p>
          <button type="submit">Save</button> <a href="/ui/attributes">Back to the registry</a>
        </p>
      </form>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/attributes/:key', (c) => renderEdit(c, c.req.param('key')));

  ui.post('/ui/attributes/:key', async (c) => {
    const key = c.req.param('key');
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    // Empty fields clear: no description, no category, the category's own purpose.
    const body = {
      description: str(form, 'description') ?? null,
      category: str(form, 'category') ?? null,
      sensitive: form.sensitive === 'on',
      purpose: str(form, 'purpose') ?? null,
    };
    const res = await api<Attribute>(app, c, 'PATCH', `/v1/attributes/${encodeURIComponent(key)}`, body);
    if (!res.ok)
      return renderEdit(c, key, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    return render(c, { notice: `Saved ${res.body.key}.` });
  });
}
