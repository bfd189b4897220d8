import type { Context, Hono } from 'hono';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { edgesOf } from '../../journeys/graph.js';
import { type Definition, STEP_TYPES, type Step, type StepType, WEEKDAYS } from '../../journeys/schema.js';
import { api, must, UiError } from '../api.js';
import type { Journey, JourneyListPage, JourneyReportBody, Webhooks } from '../api-types.js';
import { type Option, segmentOptions, senderOptions, templateOptions } from '../choices.js';
import type { UiEnv } from '../env.js';
import { JourneyGraph, STEP_LABELS } from '../journey-graph.js';
import {
  Checkbox,
  Csrf,
  can,
  Field,
  FormErrors,
  fmtDate,
  ListHead,
  num,
  optionalJsonField,
  page,
  str,
  Table,
} from '../kit.js';
import { type FormState, submitForm } from '../submit.js';

// Journeys for marketers who write no JSON: the list, a journey drawn as a graph (laid out by
// elkjs on the server) with each step's counts from its report, and a form per step type to
// add or edit a step, plus the journey's settings (entry, re-entry, goal) and its lifecycle.
// Every save is a PATCH of the whole definition through /v1/journeys, so the API's one
// validation judges it; its 422 comes back with each error beside the field it names.

type Values = Record<string, unknown>;

const UNITS: Option[] = [
  { value: '1', label: 'seconds' },
  { value: '60', label: 'minutes' },
  { value: '3600', label: 'hours' },
  { value: '86400', label: 'days' },
];

/** A number of seconds as the largest whole unit (for the duration fields). */
function asDuration(seconds: number | undefined): { amount: string; unit: string } {
  if (seconds === undefined) return { amount: '', unit: '3600' };
  for (const unit of [86_400, 3600, 60])
    if (seconds % unit === 0) return { amount: String(seconds / unit), unit: String(unit) };
  return { amount: String(seconds), unit: '1' };
}

/** A duration field pair's seconds; the raw text when it is not a number (the API says why). */
function seconds(form: Values, name: string): number | string | undefined {
  const amount = num(form, name);
  if (amount === undefined || typeof amount === 'string') return amount;
  return Math.round(amount * Number(str(form, `${name}_unit`) ?? 1));
}

/** A step as the form's values. */
function stepValues(step: Step): Values {
  const v: Values = { id: step.id, type: step.type };
  const duration = (name: string, s: number | undefined) => {
    const d = asDuration(s);
    v[name] = d.amount;
    v[`${name}_unit`] = d.unit;
  };
  switch (step.type) {
    case 'wait':
      duration('duration', step.seconds);
      v['until.hour'] = step.until?.hour ?? '';
      v['until.weekday'] = step.until?.weekday ?? '';
      v.next = step.next;
      break;
    case 'wait_for_event':
      v.event = step.event;
      v.filter = step.filter === undefined ? '' : JSON.stringify(step.filter);
      duration('timeout', step.timeout_seconds);
      v.on_event = step.on_event;
      v.on_timeout = step.on_timeout;
      break;
    case 'branch':
      v.rule = JSON.stringify(step.rule, null, 2);
      // biome-ignore lint/suspicious/noThenProperty: a form's values, never awaited; the field is the API's name.
      v.then = step.then;
      v.else = step.else;
      break;
    case 'split':
      step.paths.forEach((p, i) => {
        v[`paths.${i}.weight`] = p.weight;
        v[`paths.${i}.next`] = p.next;
        v[`paths.${i}.holdout`] = p.holdout ?? false;
      });
      break;
    case 'send_email':
      v.template_id = step.template_id;
      v.subject = step.subject ?? '';
      v.offers_per_email = step.offers_per_email ?? '';
      v.sender = step.sender ?? '';
      v.next = step.next;
      break;
    case 'update_attribute':
      v.key = step.key;
      v.value = typeof step.value === 'string' ? step.value : JSON.stringify(step.value);
      v.next = step.next;
      break;
    case 'webhook':
      v.endpoint_id = step.endpoint_id;
      v.next = step.next;
      break;
    case 'exit':
      break;
  }
  return v;
}

/** An attribute value typed in a text box: true, false, null and numbers as such, else text. */
function attributeValue(text: string): unknown {
  if (/^(true|false|null|-?\d+(\.\d+)?)$/.test(text.trim())) return JSON.parse(text.trim());
  return text;
}

/** The step a form describes (the API's schema judges it), or the form's own errors. */
function stepFromForm(
  type: StepType,
  form: Values,
): { step?: Record<string, unknown>; errors?: FieldError[] } {
  const errors: FieldError[] = [];
  const step: Record<string, unknown> = { id: str(form, 'id') ?? '', type };
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== '') step[key] = value;
  };
  switch (type) {
    case 'wait': {
      const hour = num(form, 'until.hour');
      if (hour !== undefined)
        step.until = {
          hour,
          ...(str(form, 'until.weekday') ? { weekday: str(form, 'until.weekday') } : {}),
        };
      else set('seconds', seconds(form, 'duration'));
      set('next', str(form, 'next'));
      break;
    }
    case 'wait_for_event':
      set('event', str(form, 'event'));
      {
        const filter = optionalJsonField(form, 'filter', errors);
        if (filter !== null) step.filter = filter;
      }
      set('timeout_seconds', seconds(form, 'timeout'));
      set('on_event', str(form, 'on_event'));
      set('on_timeout', str(form, 'on_timeout'));
      break;
    case 'branch':
      step.rule = optionalJsonField(form, 'rule', errors);
      set('then', str(form, 'then'));
      set('else', str(form, 'else'));
      break;
    case 'split': {
      const paths = [];
      for (let i = 0; i < 3; i++) {
        const next = str(form, `paths.${i}.next`);
        if (!next) continue;
        paths.push({
          weight: num(form, `paths.${i}.weight`) ?? 0,
          next,
          ...(form[`paths.${i}.holdout`] === 'on' ? { holdout: true } : {}),
        });
      }
      step.paths = paths;
      break;
    }
    case 'send_email':
      step.template_id = num(form, 'template_id') ?? null;
      set('subject', str(form, 'subject'));
      set('offers_per_email', num(form, 'offers_per_email'));
      set('sender', num(form, 'sender'));
      set('next', str(form, 'next'));
      break;
    case 'update_attribute':
      set('key', str(form, 'key'));
      step.value = attributeValue(typeof form.value === 'string' ? form.value : '');
      set('next', str(form, 'next'));
      break;
    case 'webhook':
      step.endpoint_id = num(form, 'endpoint_id') ?? null;
      set('next', str(form, 'next'));
      break;
    case 'exit':
      break;
  }
  return errors.length ? { errors } : { step };
}

/**
 * The API's errors for the step at `index` as the step form's own (`steps.3.seconds` →
 * `seconds`, a wait's seconds to its duration field); the rest stay as they are.
 */
function stepErrors(errors: FieldError[] | undefined, index: number): FieldError[] | undefined {
  const prefix = `steps.${index}.`;
  return errors?.map((e) => {
    if (e.path === 'start') return { ...e, path: 'place' };
    if (!e.path.startsWith(prefix)) return e;
    const field = e.path.slice(prefix.length);
    const path = field.startsWith('seconds')
      ? 'duration'
      : field.startsWith('timeout_seconds')
        ? 'timeout'
        : field.startsWith('until')
          ? 'until.hour'
          : field;
    return { ...e, path };
  });
}

interface StepFormProps extends FormState {
  csrf: string;
  action: string;
  type: StepType;
  /** Editing: the id is fixed (other steps point at it). */
  fixedId?: string | undefined;
  stepIds: string[];
  /** Adding: where the new step goes (`start`, or `<step>|<field>` to follow that arrow). */
  places?: Option[] | undefined;
  templates: Option[];
  senders: Option[];
  endpoints: Option[];
}

/** The form of one step of `type`: its fields, the steps it leads to, and where it goes. */
function StepForm(props: StepFormProps) {
  const v = props.values;
  const e = props.errors;
  const s = (name: string) => v[name] as string | undefined;
  const steps: Option[] = [{ value: '', label: '— choose —' }].concat(
    props.stepIds.map((id) => ({ value: id, label: id })),
  );
  const leadsTo = (name: string, label: string) => (
    <Field name={name} label={label} value={s(name)} options={steps} errors={e} />
  );
  const duration = (name: string, label: string) => (
    <div class="row">
      <Field name={name} label={label} type="number" value={s(name)} errors={e} attrs={{ min: 1 }} />
      <Field name={`${name}_unit`} label="Unit" value={s(`${name}_unit`) ?? '3600'} options={UNITS} />
    </div>
  );
  const fields: Record<StepType, () => unknown> = {
    wait: () => (
      <>
        {duration('duration', 'Wait for')}
        <div class="row">
          <Field
            name="until.hour"
            label="Or until (local hour)"
            type="number"
            value={s('until.hour')}
            errors={e}
            hint="0–23 in the customer’s timezone; fill this or the duration"
            attrs={{ min: 0, max: 23 }}
          />
          <Field
            name="until.weekday"
            label="On"
            value={s('until.weekday')}
            options={[{ value: '', label: 'any day' }].concat(WEEKDAYS.map((d) => ({ value: d, label: d })))}
          />
        </div>
        {leadsTo('next', 'Then')}
      </>
    ),
    wait_for_event: () => (
      <>
        <Field
          name="event"
          label="Event"
          value={s('event')}
          errors={e}
          hint="A custom event name (e.g. order_placed), or purchase"
        />
        <Field
          name="filter"
          label="Only if (JSON Logic, optional)"
          textarea
          rows={3}
          value={s('filter')}
          errors={e}
          attrs={{ class: 'code', spellcheck: false }}
        />
        {duration('timeout', 'At most')}
        <div class="row">
          {leadsTo('on_event', 'When it comes')}
          {leadsTo('on_timeout', 'When the time is up')}
        </div>
      </>
    ),
    branch: () => (
      <>
        <Field
          name="rule"
          label="Condition (JSON Logic)"
          textarea
          rows={4}
          value={s('rule')}
          errors={e}
          hint='Over {customer, event}, e.g. {">=": [{"var": "customer.total_spent"}, 100]}'
          attrs={{ class: 'code', spellcheck: false }}
        />
        <div class="row">
          {leadsTo('then', 'If yes')}
          {leadsTo('else', 'If no')}
        </div>
      </>
    ),
    split: () => (
      <>
        <FormErrors errors={e?.filter((x) => x.path === 'paths')} fields={[]} />
        {[0, 1, 2].map((i) => (
          <div class="row">
            <Field
              name={`paths.${i}.weight`}
              label={`Path ${i + 1}: share (%)`}
              type="number"
              value={s(`paths.${i}.weight`)}
              errors={e}
              attrs={{ min: 0, max: 100 }}
            />
            {leadsTo(`paths.${i}.next`, `Path ${i + 1}: goes to`)}
            <Checkbox
              name={`paths.${i}.holdout`}
              label="Holdout (sends nothing)"
              checked={v[`paths.${i}.holdout`] === true || v[`paths.${i}.holdout`] === 'on'}
              errors={e}
            />
          </div>
        ))}
        <p class="muted small">The shares add up to 100; a path left without a step is not used.</p>
      </>
    ),
    send_email: () => (
      <>
        <div class="row">
          <Field
            name="template_id"
            label="Template"
            value={String(v.template_id ?? '')}
            options={props.templates}
            errors={e}
          />
          <Field
            name="offers_per_email"
            label="Offers per email"
            type="number"
            value={s('offers_per_email')}
            errors={e}
            attrs={{ min: 0, max: 20 }}
          />
        </div>
        <Field
          name="subject"
          label="Subject (optional)"
          value={s('subject')}
          errors={e}
          hint="Empty: the template’s own"
        />
        <Field
          name="sender"
          label="Sender"
          value={String(v.sender ?? '')}
          options={props.senders}
          errors={e}
        />
        {leadsTo('next', 'Then')}
      </>
    ),
    update_attribute: () => (
      <>
        <div class="row">
          <Field name="key" label="Attribute" value={s('key')} errors={e} hint="A declared attribute’s key" />
          <Field
            name="value"
            label="Value"
            value={s('value')}
            errors={e}
            hint="true, false, a number or text"
          />
        </div>
        {leadsTo('next', 'Then')}
      </>
    ),
    webhook: () => (
      <>
        <Field
          name="endpoint_id"
          label="Webhook endpoint"
          value={String(v.endpoint_id ?? '')}
          options={props.endpoints}
          errors={e}
        />
        {leadsTo('next', 'Then')}
      </>
    ),
    exit: () => <p class="muted">The customer leaves the journey here.</p>,
  };
  const formId = props.fixedId ? `step-form-${props.fixedId}` : 'step-form';
  return (
    <form method="post" action={props.action} class="stack" id={formId} novalidate>
      <Csrf token={props.csrf} />
      <FormErrors
        errors={e}
        fields={Object.keys(v).concat(['id', 'place', 'duration', 'timeout'])}
        detail={props.detail}
      />
      {props.fixedId ? (
        <input type="hidden" name="id" value={props.fixedId} />
      ) : (
        <Field
          name="id"
          label="Step name"
          value={s('id')}
          errors={e}
          required
          hint="Letters, digits, _ and -: e.g. remind"
        />
      )}
      {props.places && (
        <Field
          name="place"
          label="Place it"
          value={s('place') ?? 'start'}
          options={props.places}
          errors={e}
        />
      )}
      {fields[props.type]() as never}
      <button type="submit">{props.fixedId ? 'Save step' : 'Add step'}</button>
    </form>
  );
}

/** Where a new step may go: first, or on any arrow of an existing step. */
function placesOf(d: Pick<Definition, 'start' | 'steps'>): Option[] {
  return [{ value: 'start', label: `At the start (before ${d.start})` }].concat(
    d.steps.flatMap((step) =>
      edgesOf(step).map((edge) => ({
        value: `${step.id}|${edge.field}`,
        label: `After ${step.id}${edge.field === 'next' ? '' : ` (${edge.field.replace('.next', '')})`}, instead of going to ${edge.to}`,
      })),
    ),
  );
}

/** A step with one arrow (`next`, `then`, `paths.1.next`…) pointed elsewhere. */
function pointed(step: Step, field: string, to: string): Step {
  const copy = structuredClone(step) as Record<string, unknown>;
  const path = field.split('.');
  let at = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path[path.length - 1]!] = to;
  return copy as Step;
}

/** The settings form's values. */
function settingsValues(j: Journey): Values {
  const entry = j.entry as Record<string, unknown>;
  const v: Values = { name: j.name };
  if ('event' in entry) {
    v.entry_kind = 'event';
    v['entry.event'] = entry.event;
    v['entry.filter'] = entry.filter === undefined ? '' : JSON.stringify(entry.filter);
  } else if ('segment_id' in entry) {
    v.entry_kind = 'segment';
    v['entry.segment_id'] = entry.segment_id;
  } else if ('purchase' in entry) {
    v.entry_kind = 'purchase';
  } else {
    v.entry_kind = 'date_attribute';
    v['entry.date_attribute'] = entry.date_attribute;
    v['entry.offset_days'] = entry.offset_days ?? '';
    v['entry.at_local_hour'] = entry.at_local_hour ?? '';
    v['entry.yearly'] = entry.yearly ?? false;
  }
  v.re_entry = typeof j.re_entry === 'string' ? j.re_entry : 'after_days';
  v.re_entry_days = typeof j.re_entry === 'object' ? j.re_entry.after_days : '';
  const goal = j.goal as Record<string, unknown> | null;
  v.goal_kind = goal ? ('purchase' in goal ? 'purchase' : 'event') : 'none';
  v['goal.event'] = goal && 'event' in goal ? goal.event : '';
  return v;
}

/** The settings (name, entry, re-entry, goal) as an API body, or the form's own errors. */
function settingsBody(form: Values): { body?: Record<string, unknown>; errors?: FieldError[] } {
  const errors: FieldError[] = [];
  const kind = str(form, 'entry_kind');
  let entry: Record<string, unknown> = {};
  if (kind === 'event') {
    const filter = optionalJsonField(form, 'entry.filter', errors);
    entry = { event: str(form, 'entry.event') ?? '', ...(filter !== null ? { filter } : {}) };
  } else if (kind === 'segment') entry = { segment_id: num(form, 'entry.segment_id') ?? null };
  else if (kind === 'purchase') entry = { purchase: {} };
  else if (kind === 'date_attribute') {
    entry = { date_attribute: str(form, 'entry.date_attribute') ?? '' };
    for (const name of ['offset_days', 'at_local_hour']) {
      const value = num(form, `entry.${name}`);
      if (value !== undefined) entry[name] = value;
    }
    if (form['entry.yearly'] === 'on') entry.yearly = true;
  }
  const reEntry = str(form, 're_entry') ?? 'never';
  const goalKind = str(form, 'goal_kind');
  if (errors.length) return { errors };
  return {
    body: {
      name: str(form, 'name') ?? '',
      entry,
      re_entry: reEntry === 'after_days' ? { after_days: num(form, 're_entry_days') ?? null } : reEntry,
      goal:
        goalKind === 'event'
          ? { event: str(form, 'goal.event') ?? '' }
          : goalKind === 'purchase'
            ? { purchase: {} }
            : null,
    },
  };
}

const SETTINGS_FIELDS = ['name', 'entry', 're_entry', 'goal'];

function SettingsForm(
  props: FormState & { csrf: string; action: string; segments: Option[]; create?: boolean },
) {
  const v = props.values;
  const e = props.errors;
  const s = (name: string) => v[name] as string | undefined;
  return (
    <form method="post" action={props.action} class="card stack" id="journey-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={e} fields={SETTINGS_FIELDS} detail={props.detail} />
      <Field name="name" label="Name" value={s('name')} errors={e} required />
      <Field
        name="entry_kind"
        label="Customers enter"
        value={s('entry_kind') ?? 'event'}
        options={[
          { value: 'event', label: 'On a custom event (e.g. cart_updated)' },
          { value: 'segment', label: 'From a segment, at activation' },
          { value: 'purchase', label: 'On a purchase' },
          { value: 'date_attribute', label: 'On a date in their profile (e.g. renewal date)' },
        ]}
        errors={e}
      />
      <fieldset class="stack">
        <legend>Entry details (for the kind chosen)</legend>
        <div class="row">
          <Field
            name="entry.event"
            label="Event name"
            value={s('entry.event')}
            errors={e}
            hint="For a custom event"
          />
          <Field
            name="entry.segment_id"
            label="Segment"
            value={String(v['entry.segment_id'] ?? '')}
            options={props.segments}
            errors={e}
            hint="For a segment"
          />
        </div>
        <Field
          name="entry.filter"
          label="Only if (JSON Logic, optional)"
          value={s('entry.filter')}
          errors={e}
          hint="For a custom event: over {event, customer}"
          attrs={{ class: 'code', spellcheck: false }}
        />
        <div class="row">
          <Field
            name="entry.date_attribute"
            label="Date attribute"
            value={s('entry.date_attribute')}
            errors={e}
            hint="For a date: a declared date attribute’s key"
          />
          <Field
            name="entry.offset_days"
            label="Days after the date"
            type="number"
            value={s('entry.offset_days')}
            errors={e}
            hint="Negative: before it"
          />
          <Field
            name="entry.at_local_hour"
            label="From (local hour)"
            type="number"
            value={s('entry.at_local_hour')}
            errors={e}
            attrs={{ min: 0, max: 23 }}
          />
        </div>
        <Checkbox
          name="entry.yearly"
          label="Every year on that day"
          checked={v['entry.yearly'] === true || v['entry.yearly'] === 'on'}
          errors={e}
        />
      </fieldset>
      <div class="row">
        <Field
          name="re_entry"
          label="May enter again"
          value={s('re_entry') ?? 'never'}
          options={[
            { value: 'never', label: 'Never' },
            { value: 'after_exit', label: 'Once they left' },
            { value: 'after_days', label: 'After some days' },
          ]}
          errors={e}
        />
        <Field
          name="re_entry_days"
          label="Days"
          type="number"
          value={s('re_entry_days')}
          attrs={{ min: 1 }}
        />
      </div>
      <div class="row">
        <Field
          name="goal_kind"
          label="Goal (exits them at once)"
          value={s('goal_kind') ?? 'none'}
          options={[
            { value: 'none', label: 'None' },
            { value: 'purchase', label: 'A purchase' },
            { value: 'event', label: 'A custom event' },
          ]}
          errors={e}
        />
        <Field
          name="goal.event"
          label="Goal event"
          value={s('goal.event')}
          errors={e}
          hint="For a custom event"
        />
      </div>
      <button type="submit">{props.create ? 'Create journey' : 'Save settings'}</button>
    </form>
  );
}

const STATUS_ACTIONS: Record<string, Array<[string, string]>> = {
  draft: [['activate', 'Activate']],
  active: [
    ['pause', 'Pause (holds everyone where they are)'],
    ['archive', 'Archive'],
  ],
  paused: [
    ['resume', 'Resume'],
    ['archive', 'Archive'],
  ],
  archived: [],
};

async function endpointOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api<Webhooks>(app, c, 'GET', '/v1/webhooks?limit=100');
  return [{ value: '', label: '— choose —' }].concat(
    (res.ok ? res.body.data : []).map((w) => ({ value: String(w.id), label: w.description || w.url })),
  );
}

/** The choices the step forms offer, read once per page. */
async function choices(app: App, c: Context<UiEnv>) {
  const [templates, senders, endpoints] = await Promise.all([
    templateOptions(app, c),
    senderOptions(app, c),
    endpointOptions(app, c),
  ]);
  return { templates, senders, endpoints };
}

const entryWords = (j: Journey) => {
  const entry = j.entry as Record<string, unknown>;
  if ('event' in entry) return `on the event ${String(entry.event)}`;
  if ('segment_id' in entry) return `from segment ${String(entry.segment_id)}`;
  if ('purchase' in entry) return 'on a purchase';
  const offset = Number(entry.offset_days ?? 0);
  return `on ${String(entry.date_attribute)}${offset ? ` ${offset > 0 ? '+' : ''}${offset} days` : ''}${entry.yearly ? ', every year' : ''}`;
};

export function registerJourneyPages(ui: Hono<UiEnv>, app: App): void {
  const load = async (c: Context<UiEnv>, id: number) =>
    must(await api<Journey>(app, c, 'GET', `/v1/journeys/${id}`));

  ui.get('/ui/journeys', async (c) => {
    const list = must(await api<JourneyListPage>(app, c, 'GET', '/v1/journeys?limit=100'));
    const marketer = can(c.var.auth.role, ACCESS.marketing);
    return page(
      c,
      'Journeys',
      <>
        <ListHead title="Journeys" newHref="/ui/journeys/new" newLabel="New journey" canCreate={marketer} />
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        <p class="muted">Multi-step automations: waits, branches, splits, emails, webhooks.</p>
        {list.data.length === 0 ? (
          <p class="muted">No journey yet.</p>
        ) : (
          <Table
            rows={list.data as unknown as Journey[]}
            columns={[
              { label: 'Journey', cell: (j) => <a href={`/ui/journeys/${j.id}`}>{j.name}</a> },
              { label: 'Status', cell: (j) => <span class={`badge st-${j.status}`}>{j.status}</span> },
              { label: 'Enters', cell: (j) => entryWords(j) },
              { label: 'Version', num: true, cell: (j) => j.version },
              { label: 'Updated', cell: (j) => fmtDate(j.updated_at) },
            ]}
          />
        )}
      </>,
    );
  });

  ui.get('/ui/journeys/new', async (c) =>
    page(
      c,
      'New journey',
      <>
        <h1>New journey</h1>
        <p class="muted">Name it and say how customers enter; then add its steps on the journey’s page.</p>
        <SettingsForm
          csrf={c.var.csrf}
          action="/ui/journeys"
          values={{}}
          segments={await segmentOptions(app, c)}
          create
        />
      </>,
    ),
  );

  ui.post('/ui/journeys', (c) =>
    submitForm(c, app, {
      method: 'POST',
      path: '/v1/journeys',
      // A new journey starts with its exit: steps are added before it.
      build: (form) => {
        const built = settingsBody(form);
        return built.body
          ? { body: { ...built.body, start: 'end', steps: [{ id: 'end', type: 'exit' }] } }
          : built;
      },
      title: 'New journey',
      render: async (state) => (
        <SettingsForm
          csrf={c.var.csrf}
          action="/ui/journeys"
          segments={await segmentOptions(app, c)}
          create
          {...state}
        />
      ),
      redirect: (created) => `/ui/journeys/${created.id}?saved=1`,
    }),
  );

  ui.get('/ui/journeys/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const [journey, report] = await Promise.all([
      load(c, id),
      api<JourneyReportBody>(app, c, 'GET', `/v1/journeys/${id}/report`),
    ]);
    const marketer = can(c.var.auth.role, ACCESS.marketing) && journey.status !== 'archived';
    const counts = report.ok ? report.body.steps : {};
    const opts = marketer ? await choices(app, c) : undefined;
    const stepIds = journey.steps.map((s) => s.id);
    return page(
      c,
      journey.name,
      <>
        <p class="crumbs">
          <a href="/ui/journeys">Journeys</a> /
        </p>
        <h1>{journey.name}</h1>
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        <section class="card" id="journey-status">
          <p>
            <span class={`badge st-${journey.status}`} id="journey-status-badge">
              {journey.status}
            </span>{' '}
            {`version ${journey.version}, enters ${entryWords(journey)}`}
            {report.ok
              ? ` · ${report.body.entered} entered, ${report.body.active} inside, ${report.body.goal_reached} reached the goal`
              : ''}
          </p>
          {marketer && (
            <div class="row buttons">
              {(STATUS_ACTIONS[journey.status] ?? []).map(([action, label]) => (
                <form method="post" action={`/ui/journeys/${id}/lifecycle`}>
                  <Csrf token={c.var.csrf} />
                  <input type="hidden" name="action" value={action} />
                  <button
                    type="submit"
                    class={action === 'activate' ? undefined : 'secondary'}
                    id={`journey-${action}`}
                  >
                    {label}
                  </button>
                </form>
              ))}
            </div>
          )}
        </section>
        <section class="card" aria-labelledby="graph-h">
          <h2 id="graph-h">Steps</h2>
          <JourneyGraph
            definition={journey}
            counts={counts}
            title={`The steps of ${journey.name}, with their counts`}
          />
        </section>
        {marketer && (
          <section class="card stack" aria-labelledby="add-h" id="add-step">
            <h2 id="add-h">Add a step</h2>
            <ul class="inline-list">
              {STEP_TYPES.map((type) => (
                <li>
                  <a href={`/ui/journeys/${id}/steps/new?type=${type}`}>{STEP_LABELS[type]}</a>
                </li>
              ))}
            </ul>
          </section>
        )}
        {journey.steps.map((step) => {
          const r = counts[step.id];
          return (
            <details class="card" id={`step-${step.id}`}>
              <summary>
                {`${step.id}: ${STEP_LABELS[step.type]}${step.id === journey.start ? ' (start)' : ''}`}
                {r
                  ? ` · ${r.entered} entered${r.waiting ? `, ${r.waiting} waiting` : ''}${r.sent ? `, ${r.sent} sent, ${r.opened} opened, ${r.clicked} clicked` : ''}`
                  : ''}
              </summary>
              {marketer && opts ? (
                <>
                  <StepForm
                    csrf={c.var.csrf}
                    action={`/ui/journeys/${id}/steps/${step.id}`}
                    type={step.type}
                    fixedId={step.id}
                    stepIds={stepIds.filter(
                      (s) => s !== step.id || step.type === 'wait' || step.type === 'wait_for_event',
                    )}
                    values={stepValues(step)}
                    {...opts}
                  />
                  <form method="post" action={`/ui/journeys/${id}/steps/${step.id}/delete`}>
                    <Csrf token={c.var.csrf} />
                    <button type="submit" class="danger">{`Remove ${step.id}`}</button>
                  </form>
                </>
              ) : (
                <pre class="code small">{JSON.stringify(step, null, 2)}</pre>
              )}
            </details>
          );
        })}
        {marketer && (
          <details class="card" id="settings">
            <summary>Settings: entry, re-entry, goal</summary>
            <SettingsForm
              csrf={c.var.csrf}
              action={`/ui/journeys/${id}`}
              values={settingsValues(journey)}
              segments={await segmentOptions(app, c)}
            />
          </details>
        )}
      </>,
    );
  });

  ui.post('/ui/journeys/:id{[0-9]+}', (c) => {
    const id = Number(c.req.param('id'));
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/journeys/${id}`,
      build: settingsBody,
      title: 'Journey settings',
      render: async (state) => (
        <SettingsForm
          csrf={c.var.csrf}
          action={`/ui/journeys/${id}`}
          segments={await segmentOptions(app, c)}
          {...state}
        />
      ),
      redirect: () => `/ui/journeys/${id}?saved=1`,
    });
  });

  // The lifecycle as one route with the action in the form: a path pattern with an alternation
  // (`:action{activate|pause}`) also caught /steps/pause, a step named like an action.
  const ACTIONS = ['activate', 'pause', 'resume', 'archive'];
  ui.post('/ui/journeys/:id{[0-9]+}/lifecycle', async (c) => {
    const id = Number(c.req.param('id'));
    const action = String(((await c.req.parseBody()) as Values).action ?? '');
    if (!ACTIONS.includes(action)) throw new UiError(400, `No action ${action}`);
    const res = await api(app, c, 'POST', `/v1/journeys/${id}/${action}`);
    if (!res.ok) {
      const why = res.errors.length
        ? res.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
        : res.detail;
      throw new UiError(res.status, why ?? 'The journey could not change');
    }
    return c.redirect(`/ui/journeys/${id}?saved=1`, 303);
  });

  const typeOf = (raw: string | undefined): StepType => {
    if (!raw || !(STEP_TYPES as readonly string[]).includes(raw)) throw new UiError(404, 'No such step type');
    return raw as StepType;
  };

  ui.get('/ui/journeys/:id{[0-9]+}/steps/new', async (c) => {
    const id = Number(c.req.param('id'));
    const type = typeOf(c.req.query('type'));
    const journey = await load(c, id);
    const title = `Add a step: ${STEP_LABELS[type]}`;
    return page(
      c,
      title,
      <>
        <p class="crumbs">
          <a href="/ui/journeys">Journeys</a> / <a href={`/ui/journeys/${id}`}>{journey.name}</a> /
        </p>
        <h1>{title}</h1>
        <div class="card">
          <StepForm
            csrf={c.var.csrf}
            action={`/ui/journeys/${id}/steps?type=${type}`}
            type={type}
            stepIds={journey.steps.map((s) => s.id)}
            places={placesOf(journey)}
            values={type === 'wait' ? { duration_unit: '3600' } : {}}
            {...(await choices(app, c))}
          />
        </div>
      </>,
    );
  });

  ui.post('/ui/journeys/:id{[0-9]+}/steps', async (c) => {
    const id = Number(c.req.param('id'));
    const type = typeOf(c.req.query('type'));
    const journey = await load(c, id);
    const index = journey.steps.length;
    const opts = await choices(app, c);
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/journeys/${id}`,
      build: (form) => {
        const built = stepFromForm(type, form);
        if (!built.step) return built;
        const newId = String(built.step.id);
        const place = str(form, 'place') ?? 'start';
        let start = journey.start;
        let steps = journey.steps;
        if (place === 'start') start = newId;
        else {
          const [from, field] = place.split('|') as [string, string];
          steps = steps.map((s) => (s.id === from ? pointed(s, field, newId) : s));
        }
        return { body: { start, steps: [...steps, built.step] } };
      },
      title: `Add a step: ${STEP_LABELS[type]}`,
      render: (state) => (
        <div class="card">
          <StepForm
            csrf={c.var.csrf}
            action={`/ui/journeys/${id}/steps?type=${type}`}
            type={type}
            stepIds={journey.steps.map((s) => s.id)}
            places={placesOf(journey)}
            {...opts}
            {...state}
            errors={stepErrors(state.errors, index)}
          />
        </div>
      ),
      redirect: () => `/ui/journeys/${id}?saved=1`,
    });
  });

  ui.post('/ui/journeys/:id{[0-9]+}/steps/:step', async (c) => {
    const id = Number(c.req.param('id'));
    const stepId = c.req.param('step');
    const journey = await load(c, id);
    const index = journey.steps.findIndex((s) => s.id === stepId);
    if (index < 0) throw new UiError(404, `No step ${stepId}`);
    const type = journey.steps[index]!.type;
    const opts = await choices(app, c);
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/journeys/${id}`,
      build: (form) => {
        const built = stepFromForm(type, { ...form, id: stepId });
        if (!built.step) return built;
        return { body: { steps: journey.steps.map((s, i) => (i === index ? built.step : s)) } };
      },
      title: `Edit step ${stepId}`,
      render: (state) => (
        <div class="card">
          <StepForm
            csrf={c.var.csrf}
            action={`/ui/journeys/${id}/steps/${stepId}`}
            type={type}
            fixedId={stepId}
            stepIds={journey.steps.map((s) => s.id)}
            {...opts}
            {...state}
            errors={stepErrors(state.errors, index)}
          />
        </div>
      ),
      redirect: () => `/ui/journeys/${id}?saved=1#step-${stepId}`,
    });
  });

  ui.post('/ui/journeys/:id{[0-9]+}/steps/:step/delete', async (c) => {
    const id = Number(c.req.param('id'));
    const stepId = c.req.param('step');
    const journey = await load(c, id);
    const removed = journey.steps.find((s) => s.id === stepId);
    if (!removed) throw new UiError(404, `No step ${stepId}`);
    // A step with one way on is spliced out: what led to it leads where it led.
    const out = edgesOf(removed);
    const through = out.length === 1 ? out[0]!.to : undefined;
    const steps = journey.steps
      .filter((s) => s.id !== stepId)
      .map((s) =>
        through === undefined
          ? s
          : edgesOf(s).reduce(
              (acc, edge) => (edge.to === stepId ? pointed(acc, edge.field, through) : acc),
              s,
            ),
      );
    const start = journey.start === stepId && through ? through : journey.start;
    const res = await api(app, c, 'PATCH', `/v1/journeys/${id}`, { start, steps });
    if (!res.ok) {
      const why = res.errors.length
        ? res.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
        : res.detail;
      throw new UiError(res.status, `${stepId} cannot be removed: ${why ?? res.status}`);
    }
    return c.redirect(`/ui/journeys/${id}?saved=1`, 303);
  });
}
