import type { Context, Hono } from 'hono';
import type { App } from '../../../http/env.js';
import { WEBHOOK_EVENTS } from '../../../webhooks/routes.js';
import { api, must, UiError } from '../../api.js';
import type { Webhook, WebhookCreated, WebhookDeliveries, Webhooks } from '../../api-types.js';
import type { UiEnv } from '../../env.js';
import { Checkbox, Csrf, type Errors, Field, FormErrors, page, str, Table, When } from '../../kit.js';
import { adminOnly } from './guard.js';

const idParam = (c: Context<UiEnv>, name: string) => {
  const id = Number(c.req.param(name) ?? '');
  if (!Number.isSafeInteger(id) || id <= 0) throw new UiError(404, 'No such webhook');
  return id;
};

const eventField = (event: string) => `event_${event.replace('.', '_')}`;

function EndpointState(props: { endpoint: Webhook }) {
  const w = props.endpoint;
  if (w.enabled) return <span class="badge">enabled</span>;
  return (
    <span>
      <span class="badge">disabled</span>
      {w.disabled_reason ? <small class="muted"> {w.disabled_reason}</small> : null}
    </span>
  );
}

/** The enable/disable and delete buttons of one endpoint (each a small form posting to the UI). */
function EndpointActions(props: { endpoint: Webhook; csrf: string; back: string }) {
  const w = props.endpoint;
  return (
    <div class="row-actions">
      <form class="inline" method="post" action={`/ui/webhooks/${w.id}/${w.enabled ? 'disable' : 'enable'}`}>
        <Csrf token={props.csrf} />
        <input type="hidden" name="back" value={props.back} />
        <button type="submit" class="secondary">
          {w.enabled ? 'Disable' : 'Enable'}
          <span class="sr-only"> {w.url}</span>
        </button>
      </form>
      <form class="inline" method="post" action={`/ui/webhooks/${w.id}/delete`}>
        <Csrf token={props.csrf} />
        <button type="submit" class="danger">
          Delete<span class="sr-only"> {w.url}</span>
        </button>
      </form>
    </div>
  );
}

/**
 * /ui/webhooks: outbound webhook endpoints (create with the events to send, the secret shown
 * once; enable, disable, delete) and each endpoint's deliveries with replay, through /v1/webhooks.
 */
export function registerWebhookPages(ui: Hono<UiEnv>, app: App): void {
  ui.use('/ui/webhooks', adminOnly);
  ui.use('/ui/webhooks/*', adminOnly);

  const list = async (
    c: Context<UiEnv>,
    state: {
      values?: Record<string, unknown>;
      errors?: Errors;
      detail?: string;
      created?: WebhookCreated;
      status?: number;
    } = {},
  ) => {
    const endpoints = must(await api<Webhooks>(app, c, 'GET', '/v1/webhooks?limit=100')).data;
    const v = state.values ?? {};
    const ticked = (event: string) => (state.values ? v[eventField(event)] === 'on' : false);
    return page(
      c,
      'Webhooks',
      <>
        <h1>Webhooks</h1>
        {state.created && (
          <div class="notice" role="status" id="webhook-created">
            <p>
              Created the endpoint for <code>{state.created.url}</code>. Its signing secret is shown this
              once: copy it into the receiver now.
            </p>
            <p>
              <code class="secret" id="webhook-secret">
                {state.created.secret}
              </code>
            </p>
            <p>
              <a href={`/ui/webhooks/${state.created.id}`}>See its deliveries</a>
            </p>
          </div>
        )}
        <section class="card" aria-labelledby="endpoints-h">
          <h2 id="endpoints-h">Endpoints</h2>
          {endpoints.length === 0 ? (
            <p class="muted">No endpoint yet.</p>
          ) : (
            <Table
              columns={[
                {
                  label: 'URL',
                  cell: (w) => (
                    <a href={`/ui/webhooks/${w.id}`} class="break">
                      {w.url}
                    </a>
                  ),
                },
                { label: 'Events', cell: (w) => w.events.join(', ') },
                { label: 'State', cell: (w) => <EndpointState endpoint={w} /> },
                {
                  label: 'Actions',
                  cell: (w) => <EndpointActions endpoint={w} csrf={c.var.csrf} back="/ui/webhooks" />,
                },
              ]}
              rows={endpoints}
            />
          )}
        </section>
        <form method="post" action="/ui/webhooks" class="card stack" id="webhook-form" novalidate>
          <h2>Add an endpoint</h2>
          <Csrf token={c.var.csrf} />
          <FormErrors errors={state.errors} fields={['url', 'description', 'events']} detail={state.detail} />
          <Field
            name="url"
            label="URL"
            type="url"
            value={v.url as string}
            errors={state.errors}
            hint="https://… of the receiving system"
            required
          />
          <Field
            name="description"
            label="Description"
            value={v.description as string}
            errors={state.errors}
          />
          <fieldset class={state.errors?.some((e) => e.path.startsWith('events')) ? 'invalid' : undefined}>
            <legend>Events to send</legend>
            {WEBHOOK_EVENTS.map((event) => (
              <Checkbox name={eventField(event)} label={<code>{event}</code>} checked={ticked(event)} />
            ))}
            {state.errors
              ?.filter((e) => e.path.startsWith('events'))
              .map((e) => (
                <small class="error">{e.message}</small>
              ))}
          </fieldset>
          <button type="submit">Create</button>
        </form>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/webhooks', (c) => list(c));

  ui.post('/ui/webhooks', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const description = str(form, 'description');
    const body = {
      url: str(form, 'url') ?? '',
      events: WEBHOOK_EVENTS.filter((e) => form[eventField(e)] === 'on'),
      ...(description !== undefined ? { description } : {}),
    };
    const res = await api<WebhookCreated>(app, c, 'POST', '/v1/webhooks', body);
    if (!res.ok)
      return list(c, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    // Not a redirect: the secret is in this answer only.
    return list(c, { created: res.body, status: 201 });
  });

  for (const action of ['enable', 'disable'] as const) {
    ui.post(`/ui/webhooks/:id{[0-9]+}/${action}`, async (c) => {
      const id = idParam(c, 'id');
      const form = (await c.req.parseBody()) as Record<string, unknown>;
      must(await api(app, c, 'PATCH', `/v1/webhooks/${id}`, { enabled: action === 'enable' }));
      const back = str(form, 'back');
      return c.redirect(back === `/ui/webhooks/${id}` ? back : '/ui/webhooks', 303);
    });
  }

  ui.post('/ui/webhooks/:id{[0-9]+}/delete', async (c) => {
    const id = idParam(c, 'id');
    const res = await api(app, c, 'DELETE', `/v1/webhooks/${id}`);
    if (!res.ok && res.status !== 404) must(res);
    return c.redirect('/ui/webhooks', 303);
  });

  ui.get('/ui/webhooks/:id{[0-9]+}', async (c) => {
    const id = idParam(c, 'id');
    const cursor = c.req.query('cursor');
    const [endpoint, deliveries] = await Promise.all([
      api<Webhook>(app, c, 'GET', `/v1/webhooks/${id}`),
      api<WebhookDeliveries>(
        app,
        c,
        'GET',
        `/v1/webhooks/${id}/deliveries?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      ),
    ]);
    const w = must(endpoint);
    const page_ = must(deliveries);
    const notice = c.req.query('replayed');
    return page(
      c,
      'Webhook deliveries',
      <>
        <p class="crumbs">
          <a href="/ui/webhooks">Webhooks</a> /
        </p>
        <h1 class="break">{w.url}</h1>
        {notice && (
          <p class="notice" role="status">
            Delivery {notice} is queued again.
          </p>
        )}
        <section class="card">
          <dl class="kv">
            <dt>Events</dt>
            <dd>{w.events.join(', ')}</dd>
            <dt>State</dt>
            <dd>
              <EndpointState endpoint={w} />
            </dd>
            <dt>Description</dt>
            <dd>{w.description ?? '—'}</dd>
            <dt>Created</dt>
            <dd>
              <When iso={w.created_at} />
            </dd>
          </dl>
          <EndpointActions endpoint={w} csrf={c.var.csrf} back={`/ui/webhooks/${w.id}`} />
        </section>
        <section class="card" aria-labelledby="deliveries-h">
          <h2 id="deliveries-h">Deliveries</h2>
          {page_.data.length === 0 ? (
            <p class="muted">Nothing delivered yet.</p>
          ) : (
            <Table
              columns={[
                { label: 'Event', cell: (d) => <code>{d.event}</code> },
                { label: 'Created', cell: (d) => <When iso={d.created_at} /> },
                { label: 'Status', cell: (d) => <span class={`badge status-${d.status}`}>{d.status}</span> },
                { label: 'Attempts', num: true, cell: (d) => d.attempts },
                { label: 'Last answer', cell: (d) => (d.last_status === null ? '—' : String(d.last_status)) },
                { label: 'Last error', cell: (d) => d.last_error ?? '—' },
                {
                  label: 'Replay',
                  cell: (d) => (
                    <form method="post" action={`/ui/webhooks/${w.id}/deliveries/${d.id}/replay`}>
                      <Csrf token={c.var.csrf} />
                      <button type="submit" class="secondary">
                        Replay<span class="sr-only"> delivery {d.id}</span>
                      </button>
                    </form>
                  ),
                },
              ]}
              rows={page_.data}
              rowClass={(d) => `delivery delivery-${d.status}`}
            />
          )}
          {page_.next_cursor && (
            <a
              class="button secondary"
              href={`/ui/webhooks/${w.id}?cursor=${encodeURIComponent(page_.next_cursor)}`}
            >
              Older deliveries
            </a>
          )}
        </section>
      </>,
    );
  });

  ui.post('/ui/webhooks/:id{[0-9]+}/deliveries/:delivery{[0-9]+}/replay', async (c) => {
    const id = idParam(c, 'id');
    const delivery = idParam(c, 'delivery');
    must(await api(app, c, 'POST', `/v1/webhooks/${id}/deliveries/${delivery}/replay`));
    return c.redirect(`/ui/webhooks/${id}?replayed=${delivery}`, 303);
  });
}
