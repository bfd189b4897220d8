import type { Context, Hono } from 'hono';
import type { App } from '../../http/env.js';
import { type ReceivedForm, receiveMultipart } from '../../imports/multipart.js';
import { multipartBody } from '../../imports/multipart-body.js';
import { type ApiResult, api, apiResponse, must, Streamed, UiError } from '../api.js';
import type { Import, ImportPreview as ImportPreviewBody, Imports } from '../api-types.js';
import type { UiEnv } from '../env.js';
import { Csrf, type Errors, Field, FormErrors, page, pct, Table, When } from '../kit.js';
import { checkCsrf } from '../session.js';

// `confirm` is not among them: its errors (why to confirm) are listed above the form.
const FIELDS = ['file', 'kind', 'mapping', 'separator', 'encoding', 'triggers'];
/** Left empty, the API detects them: the kind and the separator from the header, the encoding from the bytes. */
const OPTIONAL = ['kind', 'mapping', 'separator', 'encoding', 'triggers', 'confirm'] as const;

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
          { value: '', label: 'Detect from the header' },
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
      <Field
        name="triggers"
        label="Automations"
        value={v.triggers as string}
        errors={e}
        options={[
          { value: '', label: 'Only for recent purchases (history mails nobody)' },
          { value: 'all', label: 'For every new line, old ones too' },
          { value: 'none', label: 'None' },
        ]}
        hint="Purchases older than IMPORT_TRIGGER_MAX_AGE_HOURS (default 24 hours) fire no automation unless you choose so."
      />
      <label class="check">
        <input type="checkbox" name="confirm" value="true" checked={v.confirm === 'true'} />
        The kind and columns are right: import even when the kind was guessed or most columns are ignored
      </label>
      <div id="import-preview" aria-live="polite"></div>
      <button type="submit">Upload</button>
    </form>
  );
}

const LIVE = ['uploading', 'queued', 'running'];

function ImportProgress(props: { imp: Import }) {
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
      {imp.errors.length > 0 && (
        <>
          <h3>{imp.errors.length < imp.rows_failed ? `First ${imp.errors.length} errors` : 'Errors'}</h3>
          <Table
            rows={imp.errors}
            columns={[
              { label: 'Line', num: true, cell: (e) => e.line },
              { label: 'Column', cell: (e) => e.column ?? '—' },
              { label: 'Reason', cell: (e) => e.reason },
            ]}
          />
        </>
      )}
    </div>
  );
}

const SEPARATOR_NAMES: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab' };

/** How the chosen file will read (POST /v1/imports/preview): columns to fields, first records. */
function ImportPreview(props: { preview: ApiResult<ImportPreviewBody> }) {
  const { preview } = props;
  if (!preview.ok) {
    return (
      <div data-preview="refused">
        <FormErrors
          errors={preview.errors}
          fields={[]}
          detail={preview.detail ?? `The preview failed (${preview.status})`}
        />
      </div>
    );
  }
  const p = preview.body;
  const fields = p.columns.flatMap((col) => (col.field ? [col.field] : []));
  return (
    <div data-preview="ok">
      <p class="muted">
        Read as {p.kind}, {SEPARATOR_NAMES[p.separator] ?? p.separator}-separated, {p.encoding}
        {p.decimal_comma ? ', decimal comma' : ''}.
      </p>
      {p.needs_confirmation && (
        <div class="alert" data-needs-confirmation>
          <p>Check before importing, then tick the confirmation box:</p>
          <ul>
            {p.confirmation_reasons.map((r) => (
              <li>{r}</li>
            ))}
          </ul>
        </div>
      )}
      {p.triggers && (
        <p data-emails={p.triggers.emails}>
          {p.triggers.emails === 0
            ? `This import would send no automation email (${p.triggers.orders} order(s), ${p.triggers.recent_orders} from the last ${p.triggers.max_age_hours} hours`
            : `This import would send up to ${p.triggers.emails} automation email(s): ${p.triggers.recent_orders} of ${p.triggers.orders} order(s) × ${p.triggers.purchase_triggers} purchase automation(s)`}
          {` in the ${p.triggers.records} row(s) read${p.triggers.emails === 0 ? ')' : ''}.`}
        </p>
      )}
      <Table
        rows={p.columns}
        columns={[
          { label: 'Column', cell: (col) => col.header },
          { label: 'Imported as', cell: (col) => col.field ?? <span class="muted">ignored</span> },
        ]}
      />
      {p.sample.length > 0 && (
        <>
          <h3>First rows</h3>
          <Table
            rows={p.sample}
            columns={[
              { label: 'Line', num: true, cell: (r) => r.line },
              ...fields.map((field) => ({
                label: field,
                cell: (r: ImportPreviewBody['sample'][number]) => r.values[field] ?? '',
              })),
            ]}
          />
        </>
      )}
    </div>
  );
}

/** Earlier imports, newest first: what each file gave, and a link to its page and error report. */
function RecentImports(props: { data: Imports['data']; next: string | null }) {
  return (
    <section>
      <h2>Recent imports</h2>
      {props.data.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <Table
          rows={props.data}
          columns={[
            {
              label: 'File',
              cell: (i) => <a href={`/ui/imports/${i.id}`}>{i.filename ?? `#${i.id}`}</a>,
            },
            { label: 'Kind', cell: (i) => i.kind },
            { label: 'Status', cell: (i) => <span class={`badge st-${i.status}`}>{i.status}</span> },
            { label: 'Rows', num: true, cell: (i) => i.rows_done.toLocaleString('en-GB') },
            { label: 'Created', num: true, cell: (i) => i.rows_created.toLocaleString('en-GB') },
            { label: 'Refused', num: true, cell: (i) => i.rows_failed.toLocaleString('en-GB') },
            { label: 'Uploaded', cell: (i) => <When iso={i.created_at} /> },
          ]}
        />
      )}
      {props.next && (
        <a class="button secondary" href={`/ui/imports?cursor=${encodeURIComponent(props.next)}`}>
          Older imports
        </a>
      )}
    </section>
  );
}

/** The import form's post: it streams its body itself (exempt from the UI's form parsing). */
export const IMPORT_UPLOAD_PAGE = { method: 'POST', path: '/ui/imports' } as const;

/** The API's answer to a relayed upload it refused, carried out of the multipart reader. */
class Refused extends Error {
  constructor(
    readonly result: ApiResult,
    readonly fields: Readonly<Record<string, string>>,
  ) {
    super('refused');
  }
}

/** The form's options as the API takes them: the fields left empty ("detect") are not sent. */
function forwarded(fields: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of OPTIONAL) {
    const value = fields[name]?.trim();
    if (value) out[name] = value;
  }
  return out;
}

function toFormData(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

function redisplay(c: Context<UiEnv>, values: Record<string, unknown>, res: ApiResult) {
  return page(
    c,
    'Imports',
    <>
      <h1>Import a CSV</h1>
      <ImportForm
        csrf={c.var.csrf}
        values={values}
        errors={res.errors}
        detail={res.errors.length ? undefined : res.detail}
      />
    </>,
    { status: res.status },
  );
}

export function registerImportPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/imports', async (c) => {
    const cursor = c.req.query('cursor');
    const recent = must(
      await api<Imports>(
        app,
        c,
        'GET',
        `/v1/imports?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      ),
    );
    return page(
      c,
      'Imports',
      <>
        <h1>Import a CSV</h1>
        <ImportForm csrf={c.var.csrf} values={{}} />
        <RecentImports data={recent.data} next={recent.next_cursor} />
      </>,
    );
  });

  ui.post(IMPORT_UPLOAD_PAGE.path, async (c) => {
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith('multipart/form-data')) throw new UiError(415, 'Upload the file with the form');
    const secret = c.var.deps.config.OFFERFLOW_SECRET;
    const checkToken = (fields: Readonly<Record<string, string>>) => {
      if (!checkCsrf(secret, c.var.session, fields._csrf)) {
        throw new UiError(403, 'The form’s CSRF token is missing or wrong (it must come before the file)');
      }
    };
    // The file goes on to the API as it arrives (re-encoded without the CSRF token), so an
    // upload of any size streams to storage; the API answers once it has stored all of it.
    let received: ReceivedForm<ApiResult<Import>>;
    try {
      received = await receiveMultipart(c.req.raw.body, type, 'file', async (file, before) => {
        checkToken(before);
        let all: Readonly<Record<string, string>> = before;
        file.complete.then((fields) => (all = fields)).catch(() => undefined);
        const form = multipartBody({
          before: forwarded(before),
          file: { name: 'file', filename: file.filename, stream: file.stream },
          after: file.complete.then(forwarded),
        });
        const res = await api<Import>(app, c, 'POST', '/v1/imports', new Streamed(form));
        // Refused part-way (a bad option, too large): stop reading the rest of the upload.
        if (!res.ok) throw new Refused(res, all);
        return res;
      });
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      return redisplay(c, error.fields, error.result);
    }
    const { fields } = received;
    if (!received.file) checkToken(fields);
    const res =
      received.file ?? (await api<Import>(app, c, 'POST', '/v1/imports', toFormData(forwarded(fields))));
    if (!res.ok) return redisplay(c, fields, res);
    return c.redirect(`/ui/imports/${res.body.id}`, 303);
  });

  ui.get('/ui/imports/:id{[0-9]+}', async (c) => {
    const imp = must(await api<Import>(app, c, 'GET', `/v1/imports/${Number(c.req.param('id'))}`));
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
          {imp.kind} · {imp.size_bytes.toLocaleString('en-GB')} bytes · uploaded <When iso={imp.created_at} />
        </p>
        <section class="card">
          <ImportProgress imp={imp} />
        </section>
      </>,
    );
  });

  // The form's script posts the head of the chosen file here (with the CSRF header) on each change.
  ui.post('/ui/imports/preview', async (c) => {
    const query = new URLSearchParams(forwarded(c.req.query()));
    const head = new Uint8Array(await c.req.arrayBuffer());
    const preview = await api<ImportPreviewBody>(app, c, 'POST', `/v1/imports/preview?${query}`, head);
    return c.html(<ImportPreview preview={preview} />);
  });

  ui.get('/ui/imports/:id{[0-9]+}/progress', async (c) => {
    const imp = must(await api<Import>(app, c, 'GET', `/v1/imports/${Number(c.req.param('id'))}`));
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
