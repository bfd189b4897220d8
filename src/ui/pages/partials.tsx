import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { ACCESS } from '../../http/roles.js';
import { api, must } from '../api.js';
import type { UiEnv } from '../env.js';
import { Csrf, can, type Errors, Field, FormErrors, fmtDate, ListHead, page, str, Table } from '../kit.js';
import { submitForm } from '../submit.js';

/*
 * Reusable blocks (partials): header, footer, anything a marketer saves. Each save is a new
 * version; the page lists the templates that use the block and the version each was saved with.
 */

interface PartialUse {
  template_id: number;
  template_name: string;
  template_version: number;
  partial_version: number;
}
interface Partial {
  id: number;
  name: string;
  description: string | null;
  version: number;
  mjml: string;
  updated_at: string;
  used_by?: PartialUse[];
}

const STARTER = `<mj-section background-color="#2454d6">
  <mj-column>
    <mj-text color="#ffffff" font-size="20px">Your shop</mj-text>
  </mj-column>
</mj-section>`;

function PartialForm(props: {
  csrf: string;
  action: string;
  values: Record<string, unknown>;
  errors?: Errors | undefined;
  detail?: string | undefined;
  isNew: boolean;
}) {
  const v = props.values;
  return (
    <form method="post" action={props.action} class="card stack" id="partial-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={props.errors} fields={['name', 'description', 'mjml']} detail={props.detail} />
      {props.isNew && (
        <Field
          name="name"
          label="Name"
          value={v.name as string}
          errors={props.errors}
          hint={
            'Lower-case letters, digits, - and _; templates place it as <mj-wrapper css-class="partial:NAME">'
          }
          required
        />
      )}
      <Field name="description" label="Description" value={v.description as string} errors={props.errors} />
      <Field
        name="mjml"
        label="MJML sections"
        textarea
        rows={14}
        value={(v.mjml as string) ?? STARTER}
        errors={props.errors}
        attrs={{ class: 'code', spellcheck: false }}
      />
      <button type="submit">{props.isNew ? 'Create block' : 'Save as a new version'}</button>
    </form>
  );
}

const body = (isNew: boolean) => (form: Record<string, unknown>) => ({
  body: {
    ...(isNew ? { name: str(form, 'name') ?? '' } : {}),
    description: str(form, 'description') ?? null,
    mjml: String(form.mjml ?? ''),
  },
});

export function registerPartialPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/partials', async (c) => {
    const list = must(await api<{ data: Partial[] }>(app, c, 'GET', '/v1/partials'));
    return page(
      c,
      'Reusable blocks',
      <>
        <p class="crumbs">
          <a href="/ui/templates">Templates</a> /
        </p>
        <ListHead
          title="Reusable blocks"
          newHref="/ui/partials/new"
          newLabel="New block"
          canCreate={can(c.var.auth.role, ACCESS.marketing)}
        />
        <Table
          rows={list.data}
          columns={[
            { label: 'Name', cell: (p: Partial) => <a href={`/ui/partials/${p.id}`}>{p.name}</a> },
            { label: 'Description', cell: (p: Partial) => p.description ?? '' },
            { label: 'Version', cell: (p: Partial) => `v${p.version}` },
            { label: 'Updated', cell: (p: Partial) => fmtDate(p.updated_at) },
          ]}
        />
        {list.data.length === 0 && <p class="muted">No block yet: a header and a footer are a good start.</p>}
      </>,
    );
  });

  ui.get('/ui/partials/new', (c) =>
    page(
      c,
      'New block',
      <>
        <h1>New reusable block</h1>
        <PartialForm csrf={c.var.csrf} action="/ui/partials" values={{}} isNew />
      </>,
    ),
  );

  ui.post('/ui/partials', (c) =>
    submitForm(c, app, {
      method: 'POST',
      path: '/v1/partials',
      build: body(true),
      title: 'New block',
      render: (state) => <PartialForm csrf={c.var.csrf} action="/ui/partials" isNew {...state} />,
      redirect: (created) => `/ui/partials/${created.id}?saved=1`,
    }),
  );

  ui.get('/ui/partials/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const p = must(await api<Partial>(app, c, 'GET', `/v1/partials/${id}`));
    const uses = p.used_by ?? [];
    return page(
      c,
      p.name,
      <>
        <p class="crumbs">
          <a href="/ui/partials">Reusable blocks</a> /
        </p>
        <h1>
          {p.name} <span class="muted">v{p.version}</span>
        </h1>
        {c.req.query('saved') && <p class="notice">Saved as version {p.version}.</p>}
        <section class="card" id="used-by">
          <h2>Used by</h2>
          {uses.length === 0 ? (
            <p class="muted">No template uses this block yet.</p>
          ) : (
            <>
              <p class="muted">
                A template keeps the version it was saved with (its sent mail never changes); place the block
                again without a version, or save it in the editor, to take the latest.
              </p>
              <Table
                rows={uses}
                columns={[
                  {
                    label: 'Template',
                    cell: (u: PartialUse) => <a href={`/ui/templates/${u.template_id}`}>{u.template_name}</a>,
                  },
                  { label: 'Template version', cell: (u: PartialUse) => `v${u.template_version}` },
                  {
                    label: 'Block version',
                    cell: (u: PartialUse) =>
                      u.partial_version === p.version
                        ? `v${u.partial_version} (latest)`
                        : `v${u.partial_version}`,
                  },
                ]}
              />
            </>
          )}
        </section>
        <PartialForm
          csrf={c.var.csrf}
          action={`/ui/partials/${id}`}
          values={{ description: p.description, mjml: p.mjml }}
          isNew={false}
        />
      </>,
    );
  });

  ui.post('/ui/partials/:id{[0-9]+}', (c) => {
    const id = Number(c.req.param('id'));
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/partials/${id}`,
      build: body(false),
      title: 'Edit block',
      render: (state) => (
        <PartialForm csrf={c.var.csrf} action={`/ui/partials/${id}`} isNew={false} {...state} />
      ),
      redirect: () => `/ui/partials/${id}?saved=1`,
    });
  });
}
