import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { TRIGGER_EVENTS } from '../../triggers/schema.js';
import { api, must, UiError } from '../api.js';
import type {
  Template,
  Trigger,
  TriggerPreview,
  TriggerReport,
  TriggerSettings,
  TriggersReport,
  TriggerTimeseries,
} from '../api-types.js';
import { type Option, senderOptions, TemplateFields, templateOptions } from '../choices.js';
import type { UiEnv } from '../env.js';
import {
  Checkbox,
  Csrf,
  can,
  Field,
  FormErrors,
  fmtDate,
  ListHead,
  money,
  num,
  optionalJsonField,
  page,
  pct,
  str,
  Table,
} from '../kit.js';
import { type FormState, submitForm } from '../submit.js';
import { Activity, Funnel, IncrementalResults, OfferResults, UnconvertedRevenue } from './report-parts.js';
import { RuleBuilder } from './rule-builder.js';

// Automated emails: what each earned (/v1/reports/triggers), and for marketers the triggers
// themselves (/v1/triggers): create, edit, switch on and off, delete, and the frequency cap.

const EVENT_LABELS: Record<(typeof TRIGGER_EVENTS)[number], string> = {
  purchase: 'A purchase',
  customer_created: 'A new customer',
  inactive_for: 'No purchase for some days',
  birthday: 'Birthday',
  date_attribute: 'A date in the profile (e.g. contract end)',
  social_message: 'A social message',
  event: 'A custom event (e.g. cart_updated)',
};

const FIELDS = [
  'name',
  'event',
  'params',
  'filter',
  'delay',
  'template_id',
  'template_version',
  'offers_per_email',
  'sender_id',
  'cancel_on_purchase',
  'holdout_percent',
  'transactional',
  'enabled',
];

type Values = Record<string, unknown>;

/** A stored trigger as form values. */
function toValues(t: Trigger): Values {
  return {
    name: t.name,
    event: t.event,
    'params.days': t.params.days ?? '',
    'params.attribute': t.params.attribute ?? '',
    'params.offset_days': t.params.offset_days ?? '',
    'params.event_name': t.params.event_name ?? '',
    filter: t.filter === null ? '' : JSON.stringify(t.filter, null, 2),
    'delay.hours': t.delay.hours,
    'delay.at_local_hour': t.delay.at_local_hour ?? '',
    template_id: t.template_id,
    template_version: t.template_version ?? '',
    offers_per_email: t.offers_per_email,
    sender_id: t.sender_id ?? '',
    cancel_on_purchase: t.cancel_on_purchase,
    holdout_percent: t.holdout_percent,
    transactional: t.transactional,
    enabled: t.enabled,
  };
}

/** The API body from the form (every field, so an edit can clear one); the API's schema judges it. */
function triggerBody(form: Values): { body?: Record<string, unknown>; errors?: FieldError[] } {
  const errors: FieldError[] = [];
  const filter = optionalJsonField(form, 'filter', errors);
  if (errors.length) return { errors };
  const params: Record<string, unknown> = {};
  for (const name of ['days', 'offset_days'] as const) {
    const value = num(form, `params.${name}`);
    if (value !== undefined) params[name] = value;
  }
  const attribute = str(form, 'params.attribute');
  if (attribute) params.attribute = attribute;
  const eventName = str(form, 'params.event_name');
  if (eventName) params.event_name = eventName;
  const version = num(form, 'template_version');
  return {
    body: {
      name: str(form, 'name') ?? '',
      event: str(form, 'event') ?? '',
      params,
      filter,
      delay: {
        hours: num(form, 'delay.hours') ?? 0,
        at_local_hour: num(form, 'delay.at_local_hour') ?? null,
      },
      template_id: num(form, 'template_id') ?? null,
      ...(version !== undefined ? { template_version: version } : {}),
      offers_per_email: num(form, 'offers_per_email') ?? 0,
      sender_id: num(form, 'sender_id') ?? null,
      cancel_on_purchase: form.cancel_on_purchase === 'on',
      holdout_percent: num(form, 'holdout_percent') ?? 0,
      transactional: form.transactional === 'on',
      enabled: form.enabled === 'on',
    },
  };
}

/** A checkbox's state in form values: a stored boolean, or `on` as the browser sends it (absent: off). */
const ticked = (value: unknown) => value === true || value === 'on';

function TriggerForm(
  props: FormState & { csrf: string; action: string; templates: Option[]; senders: Option[] },
) {
  const v = props.values;
  const e = props.errors;
  const s = (name: string) => v[name] as string | undefined;
  return (
    <form method="post" action={props.action} class="card stack" id="trigger-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={e} fields={FIELDS} detail={props.detail} />
      <Field name="name" label="Name" value={s('name')} errors={e} required />
      <div class="row">
        <Field
          name="event"
          label="When"
          value={s('event') ?? 'purchase'}
          errors={e}
          options={TRIGGER_EVENTS.map((event) => ({ value: event, label: EVENT_LABELS[event] }))}
        />
        <div data-event="inactive_for">
          <Field
            name="params.days"
            label="Days without a purchase"
            type="number"
            value={s('params.days')}
            errors={e}
            hint="For “No purchase for some days”"
            attrs={{ min: 1 }}
          />
        </div>
        <div data-event="event">
          <Field
            name="params.event_name"
            label="Event name"
            value={s('params.event_name')}
            errors={e}
            hint="For “A custom event”: the name posted to /v1/events (see Event types)"
          />
        </div>
        <div class="row" data-event="date_attribute">
          <Field
            name="params.attribute"
            label="Date attribute"
            value={s('params.attribute')}
            errors={e}
            hint="For “A date in the profile”: the attribute’s key"
          />
          <Field
            name="params.offset_days"
            label="Days after the date"
            type="number"
            value={s('params.offset_days')}
            errors={e}
            hint="Negative: before it"
          />
        </div>
      </div>
      <RuleBuilder target="f-filter" scope="trigger" eventInput="event" />
      <Field
        name="filter"
        label="Only if (JSON Logic, optional)"
        textarea
        rows={5}
        value={s('filter')}
        errors={e}
        hint='Over {event, customer}, e.g. {">=": [{"var": "event.amount"}, 50]} or {"in": ["garden", {"var": "customer.preferred_categories"}]}. Empty: always.'
        attrs={{ class: 'code', spellcheck: false }}
      />
      <div class="row">
        <Field
          name="delay.hours"
          label="Send after (hours)"
          type="number"
          value={s('delay.hours') ?? 0}
          errors={e}
          attrs={{ min: 0, step: 'any' }}
        />
        <Field
          name="delay.at_local_hour"
          label="Then at (local hour)"
          type="number"
          value={s('delay.at_local_hour')}
          errors={e}
          hint="0–23 in the customer’s timezone; empty: right away"
          attrs={{ min: 0, max: 23 }}
        />
      </div>
      <div class="row">
        <TemplateFields
          templates={props.templates}
          values={v}
          errors={e}
          versionHint="Pinned when saved; empty: the latest"
        />
        <Field
          name="offers_per_email"
          label="Offers per email"
          type="number"
          value={s('offers_per_email') ?? 2}
          errors={e}
          attrs={{ min: 0, max: 20 }}
        />
        <Field
          name="sender_id"
          label="Sender"
          value={s('sender_id')}
          options={props.senders}
          errors={e}
          hint="Its From, Reply-To and DKIM key"
        />
        <Field
          name="holdout_percent"
          label="Holdout (%)"
          type="number"
          value={s('holdout_percent') ?? 0}
          errors={e}
          attrs={{ min: 0, max: 50, step: 'any' }}
          hint="Kept from it at random, to measure its lift"
        />
      </div>
      <Checkbox
        name="transactional"
        label="Transactional (a receipt, a confirmation): reaches the global control group too"
        checked={ticked(v.transactional)}
        errors={e}
      />
      <Checkbox
        name="cancel_on_purchase"
        label="A later purchase cancels it while it waits (replenish reminders, win-back)"
        checked={ticked(v.cancel_on_purchase)}
        errors={e}
      />
      <Checkbox
        name="enabled"
        label="On"
        checked={Object.keys(v).length === 0 || ticked(v.enabled)}
        errors={e}
      />
      <button type="submit">Save trigger</button>
    </form>
  );
}

function CapForm(props: FormState & { csrf: string }) {
  const e = props.errors;
  return (
    <form method="post" action="/ui/triggers/settings" class="card stack" id="cap-form" novalidate>
      <Csrf token={props.csrf} />
      <h2>Frequency cap</h2>
      <p class="muted">
        Across all triggers: at most this many automated emails per customer in this many days.
      </p>
      <FormErrors errors={e} fields={['max_messages', 'days']} detail={props.detail} />
      <div class="row">
        <Field
          name="max_messages"
          label="At most (emails)"
          type="number"
          value={props.values.max_messages as string}
          errors={e}
          attrs={{ min: 0 }}
        />
        <Field
          name="days"
          label="In (days)"
          type="number"
          value={props.values.days as string}
          errors={e}
          attrs={{ min: 1 }}
        />
      </div>
      <button type="submit" class="secondary">
        Save the cap
      </button>
    </form>
  );
}

/** How the trigger is set, in words. */
function Settings(props: { t: Trigger; templateName?: string | undefined }) {
  const { t } = props;
  const offset = Number(t.params.offset_days ?? 0);
  const when = [
    EVENT_LABELS[t.event as keyof typeof EVENT_LABELS] ?? t.event,
    t.params.days ? `: ${String(t.params.days)} days` : '',
    t.params.event_name ? `: ${String(t.params.event_name)}` : '',
    t.params.attribute
      ? `: ${String(t.params.attribute)}${offset ? ` ${offset > 0 ? '+' : ''}${offset} days` : ''}`
      : '',
  ].join('');
  const delay =
    (t.delay.hours ? `${t.delay.hours} h after` : 'right away') +
    (t.delay.at_local_hour !== null ? `, then at ${t.delay.at_local_hour}:00 local time` : '');
  const counts = Object.entries(t.messages ?? {}) as [string, number][];
  return (
    <dl class="kv" id="trigger-settings">
      <dt>Status</dt>
      <dd>
        <span class={`badge ${t.enabled ? 'st-sending' : 'st-paused'}`}>{t.enabled ? 'on' : 'off'}</span>
      </dd>
      <dt>When</dt>
      <dd>{when}</dd>
      <dt>Only if</dt>
      <dd>{t.filter === null ? 'always' : <code>{JSON.stringify(t.filter)}</code>}</dd>
      <dt>Sends</dt>
      <dd>
        {`${delay}: template `}
        <a
          href={`/ui/templates/${t.template_id}`}
        >{`${props.templateName ?? 'the template'} v${t.template_version}`}</a>
        {`, ${t.offers_per_email} offers${t.cancel_on_purchase ? '; a later purchase cancels it' : ''}`}
      </dd>
      <dt>Messages</dt>
      <dd id="trigger-messages">
        {counts.length ? counts.map(([status, n]) => `${status} ${n}`).join(' · ') : 'none yet'}
      </dd>
    </dl>
  );
}

/** "Try it on a customer": the dry run of POST /v1/triggers/{id}/preview, answered in place. */
function TryOnCustomer(props: { id: number; event: string }) {
  return (
    <details class="card" id="try">
      <summary>Try it on a customer</summary>
      <div class="stack">
        <div class="row">
          <Field name="preview_customer_id" label="Customer id" type="number" attrs={{ min: 1 }} />
          <Field
            name="preview_event"
            label="Event (JSON, optional)"
            hint={
              props.event === 'purchase'
                ? 'Empty: their latest order. E.g. {"amount": 80}'
                : 'The event’s fields the filter reads under event'
            }
            attrs={{ class: 'code', spellcheck: false }}
          />
        </div>
        <button
          type="button"
          class="secondary"
          hx-post={`/ui/triggers/${props.id}/preview`}
          hx-include="[name='preview_customer_id'], [name='preview_event']"
          hx-target="#trigger-preview"
        >
          Try
        </button>
        <output id="trigger-preview" aria-live="polite"></output>
      </div>
    </details>
  );
}

/** A dry run's answer in words. */
function PreviewResult(props: { p: TriggerPreview }) {
  const { p } = props;
  return (
    <div data-fires={String(p.fires)}>
      {p.fires ? (
        <p class="notice">
          {`Would send ${fmtDate(p.send_at)}`}
          {p.offers.length ? ` with ${p.offers.map((o) => o.title).join(', ')}` : ''}.
        </p>
      ) : (
        <p class="alert">Would not send: {p.reasons.join(', ')}.</p>
      )}
      <p class="muted small">
        {`Filter ${p.filter.passed ? 'passes' : p.filter.error ? `fails (${p.filter.error})` : 'says no'}; `}
        {`${p.cap.recent} of ${p.cap.max_messages} automated emails in ${p.cap.days} days`}
        {p.already_fired ? '; this event fired it already' : ''}.
      </p>
      <pre class="code small">{JSON.stringify(p.event, null, 2)}</pre>
    </div>
  );
}

export function registerTriggerPages(ui: Hono<UiEnv>, app: App): void {
  ui.post('/ui/triggers/:id{[0-9]+}/preview', async (c) => {
    const form = (await c.req.parseBody()) as Values;
    const errors: FieldError[] = [];
    const event = optionalJsonField(form, 'preview_event', errors);
    if (errors.length) return c.html(<span class="error">event: {errors[0]!.message}</span>);
    const res = await api<TriggerPreview>(
      app,
      c,
      'POST',
      `/v1/triggers/${Number(c.req.param('id'))}/preview`,
      {
        customer_id: num(form, 'preview_customer_id') ?? null,
        ...(event === null ? {} : { event }),
      },
    );
    if (!res.ok)
      return c.html(
        <span class="error">
          {res.errors.length
            ? res.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
            : (res.detail ?? `failed (${res.status})`)}
        </span>,
      );
    return c.html(<PreviewResult p={res.body} />);
  });

  ui.get('/ui/triggers', async (c) => {
    const marketer = can(c.var.auth.role, ACCESS.marketing);
    const [report, settings] = await Promise.all([
      api<TriggersReport>(app, c, 'GET', '/v1/reports/triggers'),
      api<TriggerSettings>(app, c, 'GET', '/v1/triggers/settings'),
    ]);
    const { data } = must(report);
    return page(
      c,
      'Triggers',
      <>
        <ListHead title="Triggers" newHref="/ui/triggers/new" newLabel="New trigger" canCreate={marketer} />
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        <p class="muted">Automated emails and what they earned (human opens and clicks).</p>
        <div class="stack">
          <Table
            rows={data}
            columns={[
              {
                label: 'Trigger',
                cell: (t) => (
                  <a href={`/ui/triggers/${t.id}`}>
                    {t.name}
                    {t.deleted ? ' (deleted)' : t.enabled ? '' : ' (off)'}
                  </a>
                ),
              },
              { label: 'Event', cell: (t) => t.event },
              { label: 'Sent', num: true, cell: (t) => t.sent },
              { label: 'Open', num: true, cell: (t) => pct(t.open_rate) },
              { label: 'Click', num: true, cell: (t) => pct(t.click_rate) },
              { label: 'Conversion', num: true, cell: (t) => pct(t.conversion_rate) },
              { label: 'Revenue', num: true, cell: (t) => money(t.revenue) },
            ]}
          />
          {marketer && settings.ok ? (
            <CapForm csrf={c.var.csrf} values={settings.body} />
          ) : (
            settings.ok && (
              <p class="muted" id="cap">
                Frequency cap: at most {settings.body.max_messages} automated emails per customer in{' '}
                {settings.body.days} days.
              </p>
            )
          )}
        </div>
      </>,
    );
  });

  ui.post('/ui/triggers/settings', (c) =>
    submitForm(c, app, {
      method: 'PUT',
      path: '/v1/triggers/settings',
      build: (form) => ({ body: { max_messages: num(form, 'max_messages'), days: num(form, 'days') } }),
      title: 'Frequency cap',
      render: (state) => <CapForm csrf={c.var.csrf} {...state} />,
      redirect: () => '/ui/triggers?saved=1',
    }),
  );

  ui.get('/ui/triggers/new', async (c) =>
    page(
      c,
      'New trigger',
      <>
        <h1>New trigger</h1>
        <TriggerForm
          csrf={c.var.csrf}
          action="/ui/triggers"
          values={{}}
          templates={await templateOptions(app, c)}
          senders={await senderOptions(app, c)}
        />
      </>,
    ),
  );

  ui.post('/ui/triggers', (c) =>
    submitForm(c, app, {
      method: 'POST',
      path: '/v1/triggers',
      build: triggerBody,
      title: 'New trigger',
      render: async (state) => (
        <TriggerForm
          csrf={c.var.csrf}
          action="/ui/triggers"
          templates={await templateOptions(app, c)}
          senders={await senderOptions(app, c)}
          {...state}
        />
      ),
      redirect: (created) => `/ui/triggers/${created.id}?saved=1`,
    }),
  );

  ui.post('/ui/triggers/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/triggers/${id}`,
      build: triggerBody,
      title: 'Edit trigger',
      render: async (state) => (
        <TriggerForm
          csrf={c.var.csrf}
          action={`/ui/triggers/${id}`}
          templates={await templateOptions(app, c)}
          senders={await senderOptions(app, c)}
          {...state}
        />
      ),
      redirect: () => `/ui/triggers/${id}?saved=1`,
    });
  });

  ui.post('/ui/triggers/:id{[0-9]+}/:action{on|off|delete}', async (c) => {
    const id = Number(c.req.param('id'));
    const action = c.req.param('action');
    const res =
      action === 'delete'
        ? await api(app, c, 'DELETE', `/v1/triggers/${id}`)
        : await api(app, c, 'PATCH', `/v1/triggers/${id}`, { enabled: action === 'on' });
    if (!res.ok) throw new UiError(res.status, res.detail ?? 'The trigger could not change');
    return c.redirect(action === 'delete' ? '/ui/triggers?saved=1' : `/ui/triggers/${id}`, 303);
  });

  ui.get('/ui/triggers/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const [report, series, trigger] = await Promise.all([
      api<TriggerReport>(app, c, 'GET', `/v1/reports/triggers/${id}`),
      api<TriggerTimeseries>(app, c, 'GET', `/v1/reports/triggers/${id}/timeseries?interval=day`),
      api<Trigger>(app, c, 'GET', `/v1/triggers/${id}`),
    ]);
    const r = must(report);
    const points = series.ok ? series.body.data : [];
    // A deleted trigger keeps its report; only a live one has settings to show and edit.
    const live = trigger.ok ? trigger.body : undefined;
    const template = live
      ? await api<Template>(app, c, 'GET', `/v1/templates/${live.template_id}`)
      : undefined;
    const marketer = can(c.var.auth.role, ACCESS.marketing);
    return page(
      c,
      r.trigger.name,
      <>
        <p class="crumbs">
          <a href="/ui/triggers">Triggers</a> /
        </p>
        <h1>{r.trigger.name}</h1>
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        {live && (
          <section class="card">
            <Settings t={live} templateName={template?.ok ? template.body.name : undefined} />
            {marketer && (
              <div class="row buttons">
                <form method="post" action={`/ui/triggers/${id}/${live.enabled ? 'off' : 'on'}`}>
                  <Csrf token={c.var.csrf} />
                  <button type="submit" class="secondary">
                    {live.enabled ? 'Switch off (cancels its waiting emails)' : 'Switch on'}
                  </button>
                </form>
                <details>
                  <summary>Delete…</summary>
                  <form method="post" action={`/ui/triggers/${id}/delete`}>
                    <Csrf token={c.var.csrf} />
                    <p class="muted">Its emails not sent yet are cancelled; its report stays.</p>
                    <button type="submit" class="danger">
                      Delete this trigger
                    </button>
                  </form>
                </details>
              </div>
            )}
          </section>
        )}
        <section class="card report" id="report" aria-labelledby="report-h">
          {/* The report's parts head their sections with h3: the page's order needs this h2. */}
          <h2 id="report-h">Report</h2>
          <Funnel totals={r.totals} currency={r.currency} />
          <UnconvertedRevenue report={r} />
          <OfferResults offers={r.offers} currency={r.currency} />
          <IncrementalResults inc={r.incremental} />
          <Activity points={points} interval="day" />
        </section>
        {live && marketer && <TryOnCustomer id={id} event={live.event} />}
        {live && marketer && (
          <details class="card" id="edit">
            <summary>Edit</summary>
            <TriggerForm
              csrf={c.var.csrf}
              action={`/ui/triggers/${id}`}
              values={toValues(live)}
              templates={await templateOptions(app, c)}
              senders={await senderOptions(app, c)}
            />
          </details>
        )}
      </>,
      { scripts: ['/ui/vendor/chart.js'] },
    );
  });
}
