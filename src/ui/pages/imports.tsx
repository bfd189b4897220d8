// biome-ignore-all lint/suspicious/noExplicitAny: API JSON read here was validated by the API's own response schemas
import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { api, apiResponse, must, UiError } from '../api.js';
import type { UiEnv } from '../env.js';
import { Csrf, type Errors, Field, FormErrors, fmtDate, page, pct, str } from '../kit.js';

const FIELDS = ['file', 'kind', 'mapping', 'separator', 'encoding'];
const OPTIONAL = ['mapping', 'separator', 'encoding'] as const;

function ImportForm(props: {
  csrf: string;
  values: Record<string, unknown>;
  errors?: Errors | undefined;
  detail?: string | undefined;
}) {
  const v = props.values;
  const e = props.errors;
  return (
    <form
      method="post"
      action="/ui/imports"
      enctype="multipart/form-data"
      class="card stack"
      id="import-form"
      novalidate
    >
      <Csrf token={props.csrf} />
      <FormErrors errors={e} fields={FIELDS} detail={props.detail} />
      <Field
        name="file"
        label="CSV file"
        type="file"
        errors={e}
        required
        attrs={{ accept: '.csv,text/csv' }}
      />
      <Field
        name="kind"
        label="Rows are"
        value={v.kind as string}
        errors={e}
        options={[
          { value: 'customers', label: 'Customers' },
          { value: 'purchases', label: 'Purchases' },
        ]}
      />
      <Field
        name="mapping"
        label="Column mapping (JSON, optional)"
        textarea
        rows={4}
        value={v.mapping as string}
        errors={e}
        hint='Field → column header, e.g. {"amount": "Montant TTC", "external_id": "Code client"}. Empty: usual headers (ERP and shop exports) are recognised.'
        attrs={{ class: 'code', spellcheck: false }}
      />
      <div class="row">
        <Field
          name="separator"
          label="Separator"
          value={v.separator as string}
          errors={e}
          options={[
            { value: '', label: 'Detect' },
            { value: 'comma', label: 'Comma ,' },
            { value: 'semicolon', label: 'Semicolon ;' },
            { value: 'tab', label: 'Tab' },
          ]}
        />
        <Field
          name="encoding"
          label="Encoding"
          value={v.encoding as string}
          errors={e}
          options={[
            { value: '', label: 'Detect' },
            { value: 'utf-8', label: 'UTF-8' },
            { value: 'windows-1252', label: 'Windows-1252' },
          ]}
        />
      </div>
      <button type="submit">Upload</button>
    </form>
  );
}

const LIVE = ['uploading', 'queued', 'running'];

function ImportProgress(props: { imp: any }) {
  const imp = props.imp;
  const live = LIVE.includes(imp.status);
  return (
    <div
      id="import-progress"
      data-status={imp.status}
      {...(live
        ? { 'hx-get': `/ui/imports/${imp.id}/progress`, 'hx-trigger': 'every 1s', 'hx-swap': 'outerHTML' }
        : {})}
    >
      <p>
        Status: <span class={`badge st-${imp.status}`}>{imp.status}</span> · {pct(imp.progress)}
      </p>
      <progress max={1} value={imp.progress}></progress>
      <p class="muted">
        {imp.rows_done.toLocaleString('en-GB')} rows read · {imp.rows_created.toLocaleString('en-GB')} created
        or updated · {imp.rows_unchanged.toLocaleString('en-GB')} unchanged ·{' '}
        {imp.rows_failed.toLocaleString('en-GB')} refused
      </p>
      {imp.error && <p class="alert">{imp.error}</p>}
      {(imp.rows_failed > 0 || !live) && (
        <p>
          <a href={`/ui/imports/${imp.id}/errors.csv`} download>
            Download the error report (CSV)
          </a>
        </p>
      )}
    </div>
  );
}

export function registerImportPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/imports', (c) =>
    page(
      c,
      'Imports',
      <>
        <h1>Import a CSV</h1>
        <ImportForm csrf={c.var.csrf} values={{}} />
      </>,
    ),
  );

  ui.post('/ui/imports', async (c) => {
    const form = await c.req.parseBody();
    // Forward the upload as the API's multipart body; empty optional fields mean "detect".
    const body = new FormData();
    if (form.file instanceof File && form.file.size > 0) body.append('file', form.file, form.file.name);
    body.append('kind', str(form, 'kind') ?? '');
    for (const name of OPTIONAL) {
      const value = str(form, name);
      if (value !== undefined) body.append(name, value);
    }
    const res = await api(app, c, 'POST', '/v1/imports', body);
    if (!res.ok) {
      return page(
        c,
        'Imports',
        <>
          <h1>Import a CSV</h1>
          <ImportForm
            csrf={c.var.csrf}
            values={form}
            errors={res.errors}
            detail={res.errors.length ? undefined : res.detail}
          />
        </>,
        { status: res.status },
      );
    }
    return c.redirect(`/ui/imports/${res.body.id}`, 303);
  });

  ui.get('/ui/imports/:id{[0-9]+}', async (c) => {
    const imp = must(await api(app, c, 'GET', `/v1/imports/${Number(c.req.param('id'))}`));
    return page(
      c,
      `Import ${imp.id}`,
      <>
        <p class="crumbs">
          <a href="/ui/imports">Imports</a> /
        </p>
        <h1>
          Import {imp.id}: {imp.filename ?? imp.kind}
        </h1>
        <p class="muted">
          {imp.kind} · {imp.size_bytes.toLocaleString('en-GB')} bytes · uploaded {fmtDate(imp.created_at)}
        </p>
        <section class="card">
          <ImportProgress imp={imp} />
        </section>
      </>,
    );
  });

  ui.get('/ui/imports/:id{[0-9]+}/progress', async (c) => {
    const imp = must(await api(app, c, 'GET', `/v1/imports/${Number(c.req.param('id'))}`));
    return c.html(<ImportProgress imp={imp} />);
  });

  ui.get('/ui/imports/:id{[0-9]+}/errors.csv', async (c) => {
    const res = await apiResponse(app, c, 'GET', `/v1/imports/${Number(c.req.param('id'))}/errors.csv`);
    if (!res.ok) throw new UiError(res.status, `The API answered ${res.status}`);
    return new Response(res.body, {
      status: 200,
      headers: {
        'content-type': res.headers.get('content-type') ?? 'text/csv; charset=utf-8',
        'content-disposition': res.headers.get('content-disposition') ?? 'attachment',
        'cache-control': 'no-store',
      },
    });
  });
}
