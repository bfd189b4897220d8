import type { Context, Hono } from 'hono';
import { PROPERTY_TYPES } from '../../events/schema.js';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { api, must, UiError } from '../api.js';
import type { EventType, EventTypes } from '../api-types.js';
import type { UiEnv } from '../env.js';
import { Checkbox, Csrf, can, type Errors, Field, FormErrors, page, str, Table, When } from '../kit.js';

/** Blank property rows the form offers beyond the ones an event type already has. */
const BLANK_ROWS = 3;
const TYPE_OPTIONS = [{ value: '', label: '(any)' }, ...PROPERTY_TYPES.map((t) => ({ value: t, label: t }))];

interface PropertyRow {
  name: string;
  type: string;
  description: string;
  sensitive: boolean;
}

/** The property rows of the form as typed (`prop_name_0`, `prop_type_0`…), blank ones left out. */
function propertyRows(form: Record<string, unknown>): PropertyRow[] {
  const rows: PropertyRow[] = [];
  for (let i = 0; i < 200; i++) {
    if (!(`prop_name_${i}` in form)) break;
    const name = str(form, `prop_name_${i}`);
    if (!name) continue;
    rows.push({
      name,
      type: str(form, `prop_type_${i}`) ?? '',
      description: str(form, `prop_desc_${i}`) ?? '',
      sensitive: form[`prop_sensitive_${i}`] === 'on',
    });
  }
  return rows;
}

/** The POST /v1/event-types body a declaration form describes (no JSON typed by anyone). */
function buildDeclaration(form: Record<string, unknown>): { body?: unknown; errors?: FieldError[] } {
  const name = str(form, 'name');
  if (!name) return { errors: [{ path: 'name', message: 'required' }] };
  const properties: Record<string, Record<string, unknown>> = {};
  for (const row of propertyRows(form)) {
    properties[row.name] = {
      ...(row.type ? { type: row.type } : {}),
      ...(row.description ? { description: row.description } : {}),
      sensitive: row.sensitive,
    };
  }
  const description = str(form, 'description');
  return {
    body: {
      name,
      ...(description !== undefined ? { description } : {}),
      ...(Object.keys(properties).length > 0 ? { properties } : {}),
    },
  };
}

/** The form's rows for an event type being described: its known properties, then blank rows. */
function rowsFor(type: EventType | undefined, values: Record<string, unknown> | undefined): PropertyRow[] {
  if (values) {
    const typed = propertyRows(values);
    return [...typed, ...Array.from({ length: BLANK_ROWS }, () => blankRow())];
  }
  const known = (type?.properties ?? []).map((p) => ({
    name: p.name,
    type: p.type ?? '',
    description: p.description ?? '',
    sensitive: p.sensitive,
  }));
  return [...known, ...Array.from({ length: BLANK_ROWS }, () => blankRow())];
}

const blankRow = (): PropertyRow => ({ name: '', type: '', description: '', sensitive: false });

const propertySummary = (t: EventType) =>
  t.properties.length === 0
    ? '—'
    : t.properties.map((p) => (
        <span class="prop">
          <code>{p.name}</code>
          {p.type ? <span class="muted"> {p.type}</span> : null}
          {p.sensitive ? <span class="badge"> sensitive</span> : null}{' '}
        </span>
      ));

/**
 * /ui/events: event types with their volume (count, first and last seen, properties, sensitive
 * flags) and a form to declare or describe one, through /v1/event-types (its roles and audit).
 */
export function registerEventPages(ui: Hono<UiEnv>, app: App): void {
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
    const role = c.var.auth.role;
    if (!can(role, ACCESS.marketingRead)) throw new UiError(403, 'Your role may not see event types');
    const types = must(await api<EventTypes>(app, c, 'GET', '/v1/event-types')).data;
    const editing = state.values ? undefined : c.req.query('name');
    const current = editing ? types.find((t) => t.name === editing) : undefined;
    const v = state.values ?? (current ? { name: current.name, description: current.description ?? '' } : {});
    const rows = rowsFor(current, state.values);
    const canWrite = can(role, ACCESS.marketing);
    return page(
      c,
      'Events',
      <>
        <h1>Events</h1>
        {state.notice && (
          <p class="notice" role="status">
            {state.notice}
          </p>
        )}
        <section class="card" aria-labelledby="event-types-h">
          <h2 id="event-types-h">Event types</h2>
          {types.length === 0 ? (
            <p class="muted">
              No event yet. Events posted to <code>/v1/events</code> show here with their volume.
            </p>
          ) : (
            <Table
              columns={[
                {
                  label: 'Name',
                  cell: (t) =>
                    canWrite ? (
                      <a href={`/ui/events?name=${encodeURIComponent(t.name)}#event-type-form`}>
                        <code>{t.name}</code>
                      </a>
                    ) : (
                      <code>{t.name}</code>
                    ),
                },
                { label: 'Description', cell: (t) => t.description ?? '—' },
                { label: 'Events', num: true, cell: (t) => t.count.toLocaleString('en-GB') },
                { label: 'Last seen', cell: (t) => <When iso={t.last_seen_at} /> },
                { label: 'Properties', cell: propertySummary },
                {
                  label: 'Sensitive',
                  cell: (t) =>
                    t.properties.some((p) => p.sensitive)
                      ? t.properties
                          .filter((p) => p.sensitive)
                          .map((p) => p.name)
                          .join(', ')
                      : 'no',
                },
              ]}
              rows={types}
            />
          )}
        </section>
        {canWrite && (
          <form method="post" action="/ui/events" class="card stack" id="event-type-form" novalidate>
            <h2>{current ? `Describe ${current.name}` : 'Declare an event type'}</h2>
            <Csrf token={c.var.csrf} />
            <FormErrors errors={state.errors} fields={['name', 'description']} detail={state.detail} />
            <div class="row">
              <Field
                name="name"
                label="Name"
                value={v.name as string}
                errors={state.errors}
                hint="As integrations send it, e.g. cart_updated"
                required
              />
              <Field
                name="description"
                label="Description"
                value={v.description as string}
                errors={state.errors}
              />
            </div>
            <fieldset class="stack">
              <legend>Properties</legend>
              {rows.map((r, i) => (
                <div class="row" data-property-row>
                  <Field name={`prop_name_${i}`} label="Property" value={r.name} />
                  <Field name={`prop_type_${i}`} label="Type" value={r.type} options={TYPE_OPTIONS} />
                  <Field name={`prop_desc_${i}`} label="Description" value={r.description} />
                  <Checkbox name={`prop_sensitive_${i}`} label="Sensitive" checked={r.sensitive} />
                </div>
              ))}
              <small class="hint">
                A sensitive property is never sent in webhooks. Leave a row blank to skip it; properties not
                listed keep their description.
              </small>
            </fieldset>
            <button type="submit">Save</button>
          </form>
        )}
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/events', (c) => render(c));

  ui.post('/ui/events', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const { body, errors } = buildDeclaration(form);
    if (!body) return render(c, { values: form, errors: errors ?? [], status: 422 });
    const res = await api<EventType>(app, c, 'POST', '/v1/event-types', body);
    if (!res.ok)
      return render(c, {
        values: form,
        errors: res.errors,
        ...(res.errors.length ? {} : { detail: res.detail ?? `The API answered ${res.status}` }),
        status: res.status,
      });
    return render(c, { notice: `Saved ${res.body.name}.` });
  });
}
