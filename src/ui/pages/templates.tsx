import type { Context, Hono } from 'hono';
import { audit } from '../../http/audit.js';
import type { App } from '../../http/env.js';
import { AppError, type FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { compileTemplateSource } from '../../templates/compile.js';
import { expandPartials } from '../../templates/partials.js';
import { previewData } from '../../templates/preview.js';
import { compileVersion, renderForCustomer } from '../../templates/render.js';
import { api, must, UiError } from '../api.js';
import type { Customers, Partials, Template, TemplateDefaults, Templates, TestSend } from '../api-types.js';
import { senderOptions } from '../choices.js';
import type { UiEnv } from '../env.js';
import { Csrf, can, type Errors, Field, FormErrors, ListHead, page, SaveButton, str, When } from '../kit.js';

const STARTER = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">{{greeting}}</mj-text>
        <mj-text>Picked for you:</mj-text>
        <mj-text>{{> offers}}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

type Values = Record<string, unknown>;

function TemplateForm(props: {
  csrf: string;
  readOnly?: boolean | undefined;
  action: string;
  values: Values;
  errors?: Errors | undefined;
  detail?: string | undefined;
  id?: number;
  /** Sender identities to test-send from (GET /v1/senders). */
  senders?: Array<{ value: string; label: string }>;
  /** The reusable blocks the editor offers (GET /v1/partials). */
  blocks?: unknown[];
  /** Customers to preview as (id and name). */
  customers?: Array<{ value: string; label: string }>;
}) {
  const v = props.values;
  const e = props.errors;
  return (
    <>
      <section
        class="email-editor card"
        data-email-editor
        data-target="f-mjml"
        data-blocks={JSON.stringify(props.blocks ?? [])}
        aria-label="Block editor"
      >
        <p class="muted">
          Drag blocks into the email; the MJML below follows every change and the code view's edits come back
          here. <a href="/ui/partials">Reusable blocks</a>
        </p>
      </section>
      <form method="post" action={props.action} class="editor" id="template-form" novalidate>
        <div class="stack">
          <Csrf token={props.csrf} />
          <FormErrors errors={e} fields={['name', 'subject', 'preheader', 'mjml']} detail={props.detail} />
          <Field name="name" label="Name" value={v.name as string} errors={e} required />
          <Field name="subject" label="Subject" value={v.subject as string} errors={e} required />
          <Field name="preheader" label="Preheader" value={v.preheader as string} errors={e} />
          <Field
            name="mjml"
            label="MJML"
            textarea
            rows={24}
            value={(v.mjml as string) ?? STARTER}
            errors={e}
            attrs={{
              class: 'code',
              spellcheck: false,
              'hx-post': '/ui/templates/preview',
              'hx-trigger': 'load, input changed delay:500ms',
              'hx-include': '#template-form',
              'hx-target': '#preview',
            }}
          />
          <div class="row">
            <Field
              name="preview_customer_id"
              label="Preview as customer (id)"
              type="number"
              value={v.preview_customer_id as string}
              hint="Their subject, offers and text as they would receive them"
              attrs={{
                list: 'preview-customers',
                'hx-post': '/ui/templates/preview',
                'hx-trigger': 'change',
                'hx-include': '#template-form',
                'hx-target': '#preview',
              }}
            />
            <datalist id="preview-customers">
              {(props.customers ?? []).map((o) => (
                <option value={o.value}>{o.label}</option>
              ))}
            </datalist>
            <Field name="test_to" label="Test-send to" type="email" value={v.test_to as string} errors={e} />
            {props.senders && props.senders.length > 1 && (
              <Field
                name="test_sender_id"
                label="Test-send from"
                value={v.test_sender_id as string}
                options={props.senders}
              />
            )}
          </div>
          <div class="row buttons">
            <SaveButton label="Save as a new version" readOnly={props.readOnly} />
            <button
              type="button"
              class="secondary"
              hx-post="/ui/templates/preview"
              hx-include="#template-form"
              hx-target="#preview"
            >
              Refresh preview
            </button>
            {props.id && (
              <button
                type="button"
                class="secondary"
                hx-post={`/ui/templates/${props.id}/test-send`}
                hx-include="#template-form"
                hx-target="#test-send-result"
              >
                Test-send as edited
              </button>
            )}
          </div>
          <output id="test-send-result" aria-live="polite"></output>
        </div>
        <div class="preview" id="preview" aria-live="polite"></div>
      </form>
    </>
  );
}

/** The MJML source's errors, each at its line, with that line quoted. */
function SourceErrors(props: { errors: FieldError[]; mjml: string }) {
  const lines = props.mjml.split('\n');
  return (
    <div class="alert" role="alert" id="mjml-errors">
      <strong>The template has errors</strong>
      <ul>
        {props.errors.map((e) => (
          <li data-line={e.line}>
            {e.line ? (
              <>
                <span class="lineno">
                  {e.path} line {e.line}
                  {e.column ? `:${e.column}` : ''}
                </span>{' '}
              </>
            ) : (
              <span class="lineno">{e.path}</span>
            )}{' '}
            {e.message}
            {e.line && lines[e.line - 1] !== undefined ? <pre class="quote">{lines[e.line - 1]}</pre> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

async function renderPreview(c: Context<UiEnv>, form: Values) {
  const source = {
    subject: str(form, 'subject') ?? '(no subject)',
    preheader: str(form, 'preheader') ?? null,
    mjml: String(form.mjml ?? ''),
  };
  const customer = str(form, 'preview_customer_id');
  try {
    source.mjml = (await expandPartials(c.var.deps.sql, source.mjml)).mjml;
    const compiled = await compileTemplateSource(source);
    const version = compileVersion({
      template_id: 0,
      version: 0,
      subject: source.subject,
      preheader: source.preheader,
      ...compiled,
    });
    const data = await previewData(c.var.deps, customer ? { customer_id: Number(customer) } : {});
    if (customer)
      await audit(c, { action: 'customer.read', entity: 'template', customer_id: Number(customer) });
    const mail = renderForCustomer(version, data);
    return (
      <>
        <p class="subject">
          <span class="muted">Subject:</span> <strong>{mail.subject}</strong>
        </p>
        {customer && (
          <p class="muted" id="preview-offers">
            {(data.offers ?? []).length} offer(s) for this customer
            {(data.offers ?? []).length ? `: ${(data.offers ?? []).map((o) => o.title).join(', ')}` : ''}
          </p>
        )}
        {/* Focusable: a keyboard scrolls the previews sideways when they are wider than the screen. */}
        <section class="frames" tabindex={0} aria-label="Previews of the email">
          <figure>
            <figcaption>Desktop (600px)</figcaption>
            <iframe title="Desktop preview" class="desktop" sandbox="" srcdoc={mail.html}></iframe>
          </figure>
          <figure>
            <figcaption>Phone (390px)</figcaption>
            <iframe title="Phone preview" class="phone" sandbox="" srcdoc={mail.html}></iframe>
          </figure>
        </section>
        <details class="text-part">
          <summary>Text part</summary>
          <pre id="preview-text">{mail.text}</pre>
        </details>
      </>
    );
  } catch (error) {
    if (error instanceof AppError && error.errors)
      return <SourceErrors errors={error.errors} mjml={source.mjml} />;
    if (error instanceof AppError) return <p class="alert">{error.message}</p>;
    throw error;
  }
}

/** What the editor offers: the reusable blocks, and a few customers to preview as. */
async function editorChoices(app: App, c: Context<UiEnv>) {
  const [partials, customers] = await Promise.all([
    api<Partials>(app, c, 'GET', '/v1/partials'),
    can(c.var.auth.role, ACCESS.decisions)
      ? api<Customers>(app, c, 'GET', '/v1/customers?limit=50')
      : undefined,
  ]);
  return {
    blocks: partials.ok ? partials.body.data : [],
    customers: customers?.ok
      ? customers.body.data.map((cu) => ({
          value: String(cu.id),
          label: [cu.first_name, cu.last_name].filter(Boolean).join(' ') || cu.email || cu.external_id,
        }))
      : [],
  };
}

export function registerTemplatePages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/templates', async (c) => {
    const list = must(await api<Templates>(app, c, 'GET', '/v1/templates?limit=200'));
    return page(
      c,
      'Templates',
      <>
        <ListHead
          title="Templates"
          newHref="/ui/templates/new"
          newLabel="New template"
          canCreate={can(c.var.auth.role, ACCESS.marketing)}
        />
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((t) => (
              <tr>
                <td>
                  <a href={`/ui/templates/${t.id}`}>{t.name}</a>
                </td>
                <td>v{t.version}</td>
                <td>
                  <When iso={t.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data.length === 0 && <p class="muted">No template yet.</p>}
        <p>
          <a href="/ui/partials">Reusable blocks</a>{' '}
          <span class="muted">(header, footer… shared by templates)</span>
        </p>
        {can(c.var.auth.role, ACCESS.marketing) && (
          <form method="post" action="/ui/templates/defaults" id="install-defaults">
            <Csrf token={c.var.csrf} />
            {c.req.query('added') !== undefined && (
              <p class="notice">
                {c.req.query('added') === '0'
                  ? 'The shipped templates are all here already.'
                  : `Added ${c.req.query('added')} shipped template(s).`}
              </p>
            )}
            <button type="submit" class="secondary">
              Add the shipped templates that are missing
            </button>
            <small class="hint">
              {' '}
              Welcome, offers digest, post-purchase, win-back, birthday (fr, en, de)
            </small>
          </form>
        )}
      </>,
    );
  });

  ui.post('/ui/templates/defaults', async (c) => {
    const res = await api<TemplateDefaults>(app, c, 'POST', '/v1/templates/defaults');
    if (!res.ok) throw new UiError(res.status, res.detail ?? 'The shipped templates could not be added');
    return c.redirect(`/ui/templates?added=${res.body.created.length}`, 303);
  });

  ui.get('/ui/templates/new', async (c) =>
    page(
      c,
      'New template',
      <>
        <h1>New template</h1>
        <TemplateForm
          csrf={c.var.csrf}
          action="/ui/templates"
          values={{ subject: '{{customer.first_name}}, your offers' }}
          {...(await editorChoices(app, c))}
        />
      </>,
    ),
  );

  ui.get('/ui/templates/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const t = must(await api<Template>(app, c, 'GET', `/v1/templates/${id}`));
    return page(
      c,
      t.name,
      <>
        <p class="crumbs">
          <a href="/ui/templates">Templates</a> /
        </p>
        <h1>
          {t.name} <span class="muted">v{t.version}</span>
        </h1>
        {c.req.query('saved') && <p class="notice">Saved as version {t.version}.</p>}
        <TemplateForm
          csrf={c.var.csrf}
          readOnly={!can(c.var.auth.role, ACCESS.marketing)}
          action={`/ui/templates/${id}`}
          id={id}
          values={{ name: t.name, subject: t.subject, preheader: t.preheader, mjml: t.mjml }}
          senders={await senderOptions(app, c)}
          {...(await editorChoices(app, c))}
        />
      </>,
    );
  });

  const save = async (c: Context<UiEnv>, id?: number) => {
    if (!can(c.var.auth.role, ACCESS.marketing)) throw new UiError(403, 'Your role may not edit templates');
    const form = (await c.req.parseBody()) as Values;
    const body = {
      name: str(form, 'name') ?? '',
      subject: str(form, 'subject') ?? '',
      preheader: str(form, 'preheader') ?? null,
      mjml: String(form.mjml ?? ''),
    };
    const res = await api<Template>(
      app,
      c,
      id ? 'PATCH' : 'POST',
      id ? `/v1/templates/${id}` : '/v1/templates',
      body,
    );
    if (!res.ok) {
      return page(
        c,
        'Template',
        <>
          <h1>{id ? 'Edit template' : 'New template'}</h1>
          <TemplateForm
            csrf={c.var.csrf}
            action={id ? `/ui/templates/${id}` : '/ui/templates'}
            values={form}
            errors={res.errors}
            detail={res.errors.length ? undefined : res.detail}
            {...(id ? { id } : {})}
            {...(await editorChoices(app, c))}
          />
        </>,
        { status: res.status },
      );
    }
    return c.redirect(`/ui/templates/${res.body.id}?saved=1`, 303);
  };
  ui.post('/ui/templates', (c) => save(c));
  ui.post('/ui/templates/preview', async (c) => {
    if (!can(c.var.auth.role, ACCESS.marketing))
      throw new UiError(403, 'Your role may not preview templates');
    return c.html(await renderPreview(c, (await c.req.parseBody()) as Values));
  });
  ui.post('/ui/templates/:id{[0-9]+}', (c) => save(c, Number(c.req.param('id'))));

  ui.post('/ui/templates/:id{[0-9]+}/test-send', async (c) => {
    const form = (await c.req.parseBody()) as Values;
    const customer = str(form, 'preview_customer_id');
    const sender = str(form, 'test_sender_id');
    // The form as it is now, saved or not: what the marketer sees is what the test mails.
    const res = await api<TestSend>(app, c, 'POST', `/v1/templates/${Number(c.req.param('id'))}/test-send`, {
      to: str(form, 'test_to') ?? '',
      ...(customer ? { customer_id: Number(customer) } : {}),
      ...(sender ? { sender_id: Number(sender) } : {}),
      ...(str(form, 'subject') ? { subject: str(form, 'subject') } : {}),
      ...(form.preheader !== undefined ? { preheader: str(form, 'preheader') ?? null } : {}),
      ...(typeof form.mjml === 'string' && form.mjml.trim() ? { mjml: form.mjml } : {}),
    });
    if (!res.ok) {
      const msg = res.errors.length
        ? res.errors
            .map(
              (e) =>
                `${e.path === 'to' ? 'Test-send to' : e.path}: ${e.message}${e.line ? ` (line ${e.line})` : ''}`,
            )
            .join('; ')
        : res.detail;
      return c.html(<span class="error">{msg}</span>);
    }
    return c.html(<span class="notice">Sent to {res.body.accepted.join(', ')}.</span>);
  });
}
