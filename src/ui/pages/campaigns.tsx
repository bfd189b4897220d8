import type { Context, Hono } from 'hono';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { api, must, UiError } from '../api.js';
import type {
  AudienceForecast,
  Campaign,
  CampaignPage,
  CampaignReport,
  Segment,
  Sender,
  Template,
  Timeseries,
  TimeseriesPoint,
} from '../api-types.js';
import { segmentOptions, senderOptions, TemplateFields, templateOptions } from '../choices.js';
import type { UiEnv } from '../env.js';
import {
  Checkbox,
  type Column,
  Csrf,
  can,
  type Errors,
  Field,
  FormErrors,
  fmtDate,
  ListHead,
  money,
  num,
  page,
  pct,
  str,
  Table,
  When,
} from '../kit.js';
import { campaignScheduleAt } from '../store.js';
import {
  Activity,
  Funnel,
  IncrementalResults,
  OfferResults,
  RecommendedProductResults,
  ReplacedOffers,
  UnconvertedRevenue,
} from './report-parts.js';
import { CsvLink } from './reports.js';

/** Why a customer of the audience gets no mail, in words (the ledger's reason codes). */
const REASONS: Record<string, string> = {
  no_consent: 'no consent to marketing email',
  unsubscribed: 'unsubscribed',
  no_email: 'no email address',
  erased: 'erased',
  hard_bounce: 'their address bounced',
  soft_bounce: 'their address keeps bouncing',
  complaint: 'they reported a mail as spam',
  control_group: 'in the global control group (held out to measure lift)',
  holdout: 'in this campaign’s holdout',
};

/** The launch's forecast: the audience, who gets the mail, and who does not and why. */
function LaunchForecast(props: { f: AudienceForecast; scheduleAt: string | null }) {
  const f = props.f;
  const n = (x: number) => x.toLocaleString('en-GB');
  const about = f.estimated ? 'about ' : '';
  const reasons = [...f.suppressed, ...f.held_out];
  return (
    <section id="launch-forecast" aria-labelledby="forecast-h">
      <h2 id="forecast-h">Who gets it</h2>
      <p class="big">
        It will go to {about}
        <strong id="mailable-count">{n(f.mailable)}</strong> of the{' '}
        <strong id="audience-count">{n(f.audience)}</strong> customers of the segment
        {props.scheduleAt ? (
          <>
            , at <When iso={props.scheduleAt} />
          </>
        ) : (
          ', now'
        )}
        .
      </p>
      {reasons.length > 0 ? (
        <>
          <p>Not mailed, and why:</p>
          <ul class="plain" id="expected-suppressions">
            {reasons.map((r) => (
              <li data-reason={r.reason}>
                <strong>
                  {about}
                  {n(r.count)}
                </strong>{' '}
                {REASONS[r.reason] ?? r.reason}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p id="expected-suppressions">Nobody of the segment is suppressed or held out.</p>
      )}
      {f.estimated && (
        <p class="muted">
          Estimated from a random sample of the customers ({n(f.scanned)} of them in the segment).
        </p>
      )}
    </section>
  );
}

const VARIANT_ROWS = 3;
const FIELDS = [
  'name',
  'segment_id',
  'template_id',
  'template_version',
  'offers_per_email',
  'holdout_percent',
  'variants',
  'schedule_at',
  'throttle_per_second',
  'from',
  'ab_test',
  'ranker.mode',
  'ranker.objective',
  'ranker.segment_cells',
  'ranker.exploration',
  'send_at_best_hour',
];

const RANKER_OPTIONS = [
  { value: 'priority', label: 'By priority (the offers’ scores and priorities)' },
  { value: 'learning', label: 'Learning (shows more of what converts)' },
];

const OBJECTIVE_OPTIONS = [
  { value: 'conversion', label: 'Conversions' },
  { value: 'revenue', label: 'Revenue' },
];

/** A checkbox's state in form values: a stored boolean, or `on` as the browser sends it. */
const ticked = (value: unknown) => value === true || value === 'on';

/** A share (0–1) as the percent a marketer types, without float noise (0.05 → 5). */
const asPercent = (share: number) => Number((share * 100).toFixed(1));

const AB_METRIC_OPTIONS = [
  { value: 'click_rate', label: 'Click rate' },
  { value: 'open_rate', label: 'Open rate' },
  { value: 'conversion_rate', label: 'Conversion rate' },
  { value: 'revenue_per_recipient', label: 'Revenue per recipient' },
];

async function choices(app: App, c: Context<UiEnv>) {
  const [segments, templates, senders] = await Promise.all([
    segmentOptions(app, c),
    templateOptions(app, c),
    senderOptions(app, c),
  ]);
  return { segments, templates, senders };
}

type Values = Record<string, unknown>;

/** A stored campaign as form values. */
function toValues(cmp: Campaign): Values {
  const v: Values = {
    name: cmp.name,
    segment_id: cmp.segment_id ?? '',
    template_id: cmp.template_id ?? '',
    template_version: cmp.template_version ?? '',
    offers_per_email: cmp.offers_per_email,
    holdout_percent: cmp.holdout_percent,
    schedule_at: cmp.schedule_at ? cmp.schedule_at.slice(0, 16) : '',
    throttle_per_second: cmp.throttle_per_second ?? '',
    sender_id: cmp.sender_id ?? '',
    from_address: cmp.from?.address ?? '',
    from_name: cmp.from?.name ?? '',
    'ab_test.test_percent': cmp.ab_test?.test_percent ?? '',
    'ab_test.window_hours': cmp.ab_test?.window_hours ?? '',
    'ab_test.metric': cmp.ab_test?.metric ?? 'click_rate',
    'ab_test.fallback_variant': cmp.ab_test?.fallback_variant ?? '',
    'ranker.mode': cmp.ranker.mode,
    'ranker.objective': cmp.ranker.objective,
    'ranker.segment_cells': cmp.ranker.segment_cells,
    'ranker.exploration': asPercent(cmp.ranker.exploration),
    send_at_best_hour: cmp.send_at_best_hour,
  };
  cmp.variants.forEach((variant, i) => {
    v[`variants.${i}.name`] = variant.name;
    v[`variants.${i}.weight`] = variant.weight;
    v[`variants.${i}.subject`] = variant.subject ?? '';
  });
  return v;
}

/** The API body from the form; the API's own schema judges it. */
function toBody(form: Values): { body: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const variants: Array<Record<string, unknown>> = [];
  for (let i = 0; i < VARIANT_ROWS; i++) {
    const name = str(form, `variants.${i}.name`);
    const weight = num(form, `variants.${i}.weight`);
    const subject = str(form, `variants.${i}.subject`);
    if (!name && weight === undefined && !subject) continue;
    variants.push({ name: name ?? '', weight: weight ?? 1, ...(subject ? { subject } : {}) });
  }
  const schedule = str(form, 'schedule_at');
  let scheduleAt: string | null = null;
  if (schedule) {
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(schedule) ? schedule : `${schedule}Z`);
    if (Number.isNaN(date.getTime())) errors.push({ path: 'schedule_at', message: 'not a date and time' });
    else scheduleAt = date.toISOString();
  }
  const testPercent = num(form, 'ab_test.test_percent');
  const windowHours = num(form, 'ab_test.window_hours');
  const fallback = str(form, 'ab_test.fallback_variant');
  // Either number makes it a test; the API names whatever else is missing or wrong.
  const abTest =
    testPercent !== undefined || windowHours !== undefined
      ? {
          test_percent: testPercent,
          window_hours: windowHours,
          metric: str(form, 'ab_test.metric') ?? 'click_rate',
          ...(fallback ? { fallback_variant: fallback } : {}),
        }
      : null;
  const fromAddress = str(form, 'from_address');
  const fromName = str(form, 'from_name');
  // Exploration is typed in percent; the API takes a share and judges its range.
  const exploration = num(form, 'ranker.exploration') ?? 5;
  if (typeof exploration !== 'number')
    errors.push({ path: 'ranker.exploration', message: 'a number of percent, from 0 to 100' });
  const body: Record<string, unknown> = {
    name: str(form, 'name') ?? '',
    segment_id: num(form, 'segment_id') ?? null,
    template_id: num(form, 'template_id') ?? null,
    template_version: num(form, 'template_version') ?? null,
    offers_per_email: num(form, 'offers_per_email') ?? 3,
    holdout_percent: num(form, 'holdout_percent') ?? 0,
    variants,
    schedule_at: scheduleAt,
    throttle_per_second: num(form, 'throttle_per_second') ?? null,
    sender_id: num(form, 'sender_id') ?? null,
    from: fromAddress ? { address: fromAddress, ...(fromName ? { name: fromName } : {}) } : null,
    ab_test: abTest,
    ranker: {
      mode: str(form, 'ranker.mode') ?? 'priority',
      objective: str(form, 'ranker.objective') ?? 'conversion',
      segment_cells: ticked(form['ranker.segment_cells']),
      exploration: typeof exploration === 'number' ? exploration / 100 : exploration,
    },
    send_at_best_hour: ticked(form.send_at_best_hour),
  };
  return { body, errors };
}

function CampaignForm(props: {
  csrf: string;
  action: string;
  values: Values;
  errors?: Errors | undefined;
  detail?: string | undefined;
  segments: Array<{ value: string; label: string }>;
  templates: Array<{ value: string; label: string }>;
  senders: Array<{ value: string; label: string }>;
}) {
  const v = props.values;
  const e = props.errors;
  return (
    <form method="post" action={props.action} class="card stack" id="campaign-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={e} fields={[...FIELDS, 'from_address', 'sender_id']} detail={props.detail} />
      <Field name="name" label="Name" value={v.name as string} errors={e} required />
      <div class="row">
        <Field
          name="segment_id"
          label="Segment"
          value={String(v.segment_id ?? '')}
          options={props.segments}
          errors={e}
        />
        <TemplateFields
          templates={props.templates}
          values={v}
          errors={e}
          versionHint="Empty: the latest at launch"
        />
      </div>
      <div class="row">
        <Field
          name="offers_per_email"
          label="Offers per email"
          type="number"
          value={(v.offers_per_email as string) ?? 3}
          errors={e}
        />
        <Field
          name="holdout_percent"
          label="Holdout (%)"
          type="number"
          value={(v.holdout_percent as string) ?? 0}
          errors={e}
          attrs={{ min: 0, max: 50, step: 'any' }}
          hint="Kept from this mailing at random, to measure its lift"
        />
        <Field
          name="schedule_at"
          label="Send at (UTC)"
          type="datetime-local"
          value={v.schedule_at as string}
          errors={e}
          hint="Empty: at launch"
        />
        <Field
          name="throttle_per_second"
          label="Throttle (mails/second)"
          type="number"
          value={v.throttle_per_second as string}
          errors={e}
        />
      </div>
      <div class="row">
        <Field
          name="sender_id"
          label="Sender"
          value={v.sender_id as string}
          options={props.senders}
          errors={e}
          hint="Its From, Reply-To and DKIM key (the From fields beside it apply to the default sender only)"
        />
        <Field
          name="from_address"
          label="From address"
          type="email"
          value={v.from_address as string}
          errors={e}
        />
        <Field name="from_name" label="From name" value={v.from_name as string} errors={e} />
      </div>
      <fieldset class={e?.some((x) => x.path.startsWith('variants')) ? 'invalid' : undefined}>
        <legend>Variants (A/B): name, weight, subject line</legend>
        {Array.from({ length: VARIANT_ROWS }, (_, i) => (
          <div class="row">
            <Field
              name={`variants.${i}.name`}
              label={`Variant ${i + 1}`}
              value={v[`variants.${i}.name`] as string}
              errors={e}
            />
            <Field
              name={`variants.${i}.weight`}
              label="Weight"
              type="number"
              value={v[`variants.${i}.weight`] as string}
              errors={e}
            />
            <Field
              name={`variants.${i}.subject`}
              label="Subject (optional)"
              value={v[`variants.${i}.subject`] as string}
              errors={e}
            />
          </div>
        ))}
        {errorsOnVariants(e)}
      </fieldset>
      <fieldset
        id="ranking-fields"
        class={
          e?.some((x) => x.path.startsWith('ranker') || x.path === 'send_at_best_hour')
            ? 'invalid'
            : undefined
        }
      >
        <legend>Offer ranking and send time</legend>
        <div class="row">
          <Field
            name="ranker.mode"
            label="Rank offers"
            value={(v['ranker.mode'] as string) ?? 'priority'}
            options={RANKER_OPTIONS}
            errors={e}
          />
          <Field
            name="ranker.objective"
            label="Learn from"
            value={(v['ranker.objective'] as string) ?? 'conversion'}
            options={OBJECTIVE_OPTIONS}
            errors={e}
            hint="What the learning ranker maximises per offer shown"
          />
          <Field
            name="ranker.exploration"
            label="Exploration (%)"
            type="number"
            value={(v['ranker.exploration'] as string) ?? 5}
            errors={e}
            attrs={{ min: 0, max: 100, step: 'any' }}
            hint="Customers shown offers at random, so every offer keeps being tried"
          />
        </div>
        <Checkbox
          name="ranker.segment_cells"
          label="Learn per segment cell (top category × how recently they bought)"
          checked={ticked(v['ranker.segment_cells'])}
          errors={e}
        />
        <Checkbox
          name="send_at_best_hour"
          label="Send at each customer’s best hour within 24 hours (from their own opens and clicks, in their timezone)"
          checked={ticked(v.send_at_best_hour)}
          errors={e}
        />
      </fieldset>
      <fieldset class={e?.some((x) => x.path.startsWith('ab_test')) ? 'invalid' : undefined}>
        <legend>A/B test with winner send-out (optional)</legend>
        <div class="row">
          <Field
            name="ab_test.test_percent"
            label="Test cell (% of audience)"
            type="number"
            value={v['ab_test.test_percent'] as string}
            errors={e}
            hint="1–50; empty: every customer gets a variant"
          />
          <Field
            name="ab_test.window_hours"
            label="Window (hours)"
            type="number"
            value={v['ab_test.window_hours'] as string}
            errors={e}
            attrs={{ step: 'any' }}
          />
          <Field
            name="ab_test.metric"
            label="Winner on"
            value={(v['ab_test.metric'] as string) ?? 'click_rate'}
            options={AB_METRIC_OPTIONS}
            errors={e}
          />
          <Field
            name="ab_test.fallback_variant"
            label="Fallback variant"
            value={v['ab_test.fallback_variant'] as string}
            errors={e}
            hint="Sent when no variant wins at 95 %"
          />
        </div>
        {(() => {
          const own = (e ?? []).filter((x) => x.path === 'ab_test');
          return own.length ? <small class="error">{own.map((x) => x.message).join('; ')}</small> : null;
        })()}
      </fieldset>
      <button type="submit">Save campaign</button>
    </form>
  );
}

const errorsOnVariants = (e: Errors | undefined) => {
  const own = (e ?? []).filter((x) => x.path === 'variants');
  return own.length ? <small class="error">{own.map((x) => x.message).join('; ')}</small> : null;
};

/** The A/B test's settings and where it stands, with "send the winner now" while it runs. */
/** `ab_state` is present whenever `ab_test` is (abStateOf). */
function AbTestSummary(props: {
  cmp: Campaign;
  test: NonNullable<Campaign['ab_test']>;
  state: NonNullable<Campaign['ab_state']>;
  csrf: string;
  marketer: boolean;
}) {
  const { test: t, state: st } = props;
  const { id, status } = props.cmp;
  const metric = AB_METRIC_OPTIONS.find((o) => o.value === t.metric)?.label ?? t.metric;
  return (
    <>
      <dt>A/B test</dt>
      <dd id="ab-test">
        {`${t.test_percent} % test cell, ${t.window_hours} h window, winner on ${metric.toLowerCase()}`}
        {t.fallback_variant ? `, fallback ${t.fallback_variant}` : ''}
        <br />
        <span class={st.winner ? 'notice' : 'muted'}>
          {st.winner
            ? `Winner ${st.winner} (${st.decided_by === 'marketer' ? 'chosen early' : 'at the window’s end'}, ${fmtDate(st.decided_at)}): ${st.detail}`
            : st.window_ends_at
              ? `${st.phase}: window ends ${fmtDate(st.window_ends_at)}`
              : st.phase}
        </span>
        {props.marketer && !st.winner && st.phase === 'testing' && ['sending', 'paused'].includes(status) && (
          <form method="post" action={`/ui/campaigns/${id}/send-winner`}>
            <Csrf token={props.csrf} />
            <button type="submit" class="secondary">
              Send the winner now
            </button>
          </form>
        )}
      </dd>
    </>
  );
}

function Progress(props: { cmp: Campaign }) {
  const p = props.cmp.progress;
  const live =
    ['sending', 'scheduled'].includes(props.cmp.status) || (props.cmp.status !== 'draft' && p && !p.planned);
  const counts = (p?.counts ?? {}) as Record<string, number>;
  const total = p?.total ?? 0;
  // Suppressed, failed and cancelled rows are finished too: counting only `sent` left the bar
  // short of the end on every campaign that suppressed anyone.
  const done = total - ['queued', 'sending', 'held'].reduce((n, k) => n + (counts[k] ?? 0), 0);
  return (
    <div
      id="progress"
      {...(live
        ? {
            'hx-get': `/ui/campaigns/${props.cmp.id}/progress`,
            'hx-trigger': 'every 1s',
            'hx-swap': 'outerHTML',
          }
        : {})}
      data-status={props.cmp.status}
    >
      <p>
        Status: <span class={`badge st-${props.cmp.status}`}>{props.cmp.status}</span>
        {p ? ` · ${p.planned ? 'planned' : 'planning…'}` : ''}
      </p>
      {p && total > 0 && (
        <>
          <progress max={total} value={done}></progress>
          <p class="muted">
            {Object.entries(counts)
              .map(([k, n]) => `${k} ${n}`)
              .join(' · ')}{' '}
            · {p.rate_per_second.toFixed(1)}/s
          </p>
        </>
      )}
    </div>
  );
}

export function registerCampaignPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/campaigns', async (c) => {
    const list = must(await api<CampaignPage>(app, c, 'GET', '/v1/campaigns?limit=100'));
    return page(
      c,
      'Campaigns',
      <>
        <ListHead
          title="Campaigns"
          newHref="/ui/campaigns/new"
          newLabel="New campaign"
          canCreate={can(c.var.auth.role, ACCESS.marketing)}
        />
        <Table
          rows={list.data}
          columns={[
            { label: 'Name', cell: (x) => <a href={`/ui/campaigns/${x.id}`}>{x.name}</a> },
            { label: 'Status', cell: (x) => <span class={`badge st-${x.status}`}>{x.status}</span> },
            { label: 'Launched', cell: (x) => <When iso={x.launched_at} /> },
            { label: 'Schedule', cell: (x) => <When iso={x.schedule_at} /> },
          ]}
        />
      </>,
    );
  });

  ui.get('/ui/campaigns/new', async (c) => {
    const opts = await choices(app, c);
    return page(
      c,
      'New campaign',
      <>
        <h1>New campaign</h1>
        <CampaignForm
          csrf={c.var.csrf}
          action="/ui/campaigns"
          values={{
            'variants.0.name': 'A',
            'variants.0.weight': 50,
            'variants.1.name': 'B',
            'variants.1.weight': 50,
          }}
          {...opts}
        />
      </>,
    );
  });

  const save = async (c: Context<UiEnv>, id?: number) => {
    const form = (await c.req.parseBody()) as Values;
    const { body, errors } = toBody(form);
    const res =
      errors.length === 0
        ? await api<Campaign>(
            app,
            c,
            id ? 'PATCH' : 'POST',
            id ? `/v1/campaigns/${id}` : '/v1/campaigns',
            body,
          )
        : undefined;
    if (!res?.ok) {
      const opts = await choices(app, c);
      const fieldErrors = (errors.length ? errors : (res?.errors ?? [])).map((x) =>
        x.path.startsWith('from.address')
          ? { ...x, path: 'from_address' }
          : // The API judges a share; the form speaks in percent.
            x.path === 'ranker.exploration' && errors.length === 0
            ? { ...x, message: 'a number of percent, from 0 to 100' }
            : x,
      );
      return page(
        c,
        id ? 'Edit campaign' : 'New campaign',
        <>
          <h1>{id ? 'Edit campaign' : 'New campaign'}</h1>
          <CampaignForm
            csrf={c.var.csrf}
            action={id ? `/ui/campaigns/${id}` : '/ui/campaigns'}
            values={form}
            errors={fieldErrors}
            detail={fieldErrors.length ? undefined : res?.detail}
            {...opts}
          />
        </>,
        { status: res?.status ?? 422 },
      );
    }
    return c.redirect(`/ui/campaigns/${res.body.id}`, 303);
  };
  ui.post('/ui/campaigns', (c) => save(c));
  ui.post('/ui/campaigns/:id{[0-9]+}', (c) => save(c, Number(c.req.param('id'))));

  ui.get('/ui/campaigns/:id{[0-9]+}/edit', async (c) => {
    const id = Number(c.req.param('id'));
    const [cmp, opts] = await Promise.all([
      api<Campaign>(app, c, 'GET', `/v1/campaigns/${id}`).then(must),
      choices(app, c),
    ]);
    return page(
      c,
      `Edit ${cmp.name}`,
      <>
        <h1>Edit {cmp.name}</h1>
        <CampaignForm csrf={c.var.csrf} action={`/ui/campaigns/${id}`} values={toValues(cmp)} {...opts} />
      </>,
    );
  });

  ui.get('/ui/campaigns/:id{[0-9]+}/progress', async (c) => {
    const cmp = must(await api<Campaign>(app, c, 'GET', `/v1/campaigns/${Number(c.req.param('id'))}`));
    return c.html(<Progress cmp={cmp} />);
  });

  // The report while a campaign sends: polled by the page, and no longer once it is done.
  ui.get('/ui/campaigns/:id{[0-9]+}/report', async (c) => {
    const id = Number(c.req.param('id'));
    const [cmpRes, report, series] = await Promise.all([
      api<Campaign>(app, c, 'GET', `/v1/campaigns/${id}`),
      api<CampaignReport>(app, c, 'GET', `/v1/reports/campaigns/${id}?ab_metric=click`),
      api<Timeseries>(app, c, 'GET', `/v1/reports/campaigns/${id}/timeseries?interval=hour`),
    ]);
    const cmp = must(cmpRes);
    return c.html(
      <LiveReport
        cmp={cmp}
        r={report.ok ? report.body : undefined}
        points={series.ok ? series.body.data : []}
      />,
    );
  });

  /**
   * The launch checklist: each thing a launch needs (segment, template with a version, sender),
   * the audience now, and what the API refused last time, each reason at its line.
   */
  const launchPage = async (
    c: Context<UiEnv>,
    id: number,
    refused: { errors: FieldError[]; detail?: string | undefined; status: number } | undefined = undefined,
  ) => {
    const cmp = must(await api<Campaign>(app, c, 'GET', `/v1/campaigns/${id}`));
    if (cmp.status !== 'draft') throw new UiError(409, `This campaign is ${cmp.status}, not a draft`);
    const [seg, tpl, sender] = await Promise.all([
      cmp.segment_id ? api<Segment>(app, c, 'GET', `/v1/segments/${cmp.segment_id}`) : undefined,
      cmp.template_id ? api<Template>(app, c, 'GET', `/v1/templates/${cmp.template_id}`) : undefined,
      cmp.sender_id ? api<Sender>(app, c, 'GET', `/v1/senders/${cmp.sender_id}`) : undefined,
    ]);
    const checks: Array<{ ok: boolean; label: string; why?: string | undefined; field: string }> = [
      {
        field: 'segment_id',
        ok: Boolean(seg?.ok),
        label: seg?.ok ? `Segment: ${seg.body.name}` : 'A segment',
        why: seg?.ok ? undefined : 'a campaign needs a segment to launch',
      },
      {
        field: 'template_id',
        ok: Boolean(tpl?.ok),
        label: tpl?.ok ? `Template: ${tpl.body.name}` : 'A template',
        why: tpl?.ok ? undefined : 'a campaign needs a template to launch',
      },
      {
        field: 'from',
        ok: true,
        label: cmp.from
          ? `From: ${cmp.from.address}`
          : sender?.ok
            ? `From: ${sender.body.from_name ? `${sender.body.from_name} <${sender.body.from_address}>` : sender.body.from_address}`
            : 'From: the default sender identity',
      },
    ];
    for (const e of refused?.errors ?? []) {
      const check = checks.find((x) => x.field === e.path);
      if (check) Object.assign(check, { ok: false, why: e.message });
      else checks.push({ field: e.path, ok: false, label: e.path, why: e.message });
    }
    const ready = checks.every((x) => x.ok);
    return page(
      c,
      `Launch ${cmp.name}`,
      <div class="card narrow">
        <h1>Launch “{cmp.name}”?</h1>
        {refused?.detail && (
          <p class="alert" role="alert" id="launch-refused">
            {refused.detail}
          </p>
        )}
        <ul class="plain checklist" id="launch-checklist">
          {checks.map((x) => (
            <li data-check={x.field} data-ok={String(x.ok)}>
              <span class={x.ok ? 'badge ok' : 'badge no'}>{x.ok ? 'ready' : 'missing'}</span> {x.label}
              {x.why && <span class="error"> — {x.why}</span>}
            </li>
          ))}
        </ul>
        {/* The forecast reads the audience through the recipients step: it comes after the page. */}
        {seg?.ok && (
          <div
            id="launch-forecast-slot"
            hx-get={`/ui/campaigns/${id}/forecast`}
            hx-trigger="load"
            hx-swap="outerHTML"
          >
            <p class="muted">Counting who gets it…</p>
          </div>
        )}
        {ready ? (
          <form method="post" action={`/ui/campaigns/${id}/launch`}>
            <Csrf token={c.var.csrf} />
            <button type="submit" class="danger">
              Launch
            </button>{' '}
            <a href={`/ui/campaigns/${id}`}>Cancel</a>
          </form>
        ) : (
          <p>
            <a class="button" href={`/ui/campaigns/${id}/edit`}>
              Edit the campaign
            </a>
          </p>
        )}
      </div>,
      { status: refused?.status ?? 200 },
    );
  };

  ui.get('/ui/campaigns/:id{[0-9]+}/launch', (c) => launchPage(c, Number(c.req.param('id'))));

  ui.get('/ui/campaigns/:id{[0-9]+}/forecast', async (c) => {
    const id = Number(c.req.param('id'));
    // The API decides who may see the forecast; the schedule is shown only beside it.
    const [forecast, scheduleAt] = await Promise.all([
      api<AudienceForecast>(app, c, 'GET', `/v1/campaigns/${id}/audience`),
      campaignScheduleAt(c.var.deps.sql, id),
    ]);
    if (!forecast.ok)
      return c.html(
        <p class="muted" id="launch-forecast">
          {forecast.detail ?? 'The audience could not be counted.'}
        </p>,
      );
    return c.html(<LaunchForecast f={forecast.body} scheduleAt={scheduleAt?.toISOString() ?? null} />);
  });

  ui.post('/ui/campaigns/:id{[0-9]+}/:action{launch|pause|resume|cancel|send-winner}', async (c) => {
    const id = Number(c.req.param('id'));
    const res = await api(app, c, 'POST', `/v1/campaigns/${id}/${c.req.param('action')}`);
    // A refused launch: the checklist again, with each reason the API gave.
    if (!res.ok && c.req.param('action') === 'launch' && res.status === 422)
      return launchPage(c, id, { errors: res.errors, detail: res.detail, status: 422 });
    if (!res.ok) throw new UiError(res.status, res.detail ?? 'The campaign could not change');
    return c.redirect(`/ui/campaigns/${id}`, 303);
  });

  ui.get('/ui/campaigns/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const role = c.var.auth.role;
    const [cmpRes, report, series] = await Promise.all([
      api<Campaign>(app, c, 'GET', `/v1/campaigns/${id}`),
      can(role, ACCESS.reports)
        ? api<CampaignReport>(app, c, 'GET', `/v1/reports/campaigns/${id}?ab_metric=click`)
        : undefined,
      can(role, ACCESS.reports)
        ? api<Timeseries>(app, c, 'GET', `/v1/reports/campaigns/${id}/timeseries?interval=hour`)
        : undefined,
    ]);
    const cmp = must(cmpRes);
    const marketer = can(role, ACCESS.marketing);
    const r = report?.ok ? report.body : undefined;
    const points = series?.ok ? series.body.data : [];
    // Names, not ids: the segment's and template's, read with the same role.
    const [segment, template] = await Promise.all([
      cmp.segment_id ? api<Segment>(app, c, 'GET', `/v1/segments/${cmp.segment_id}`) : undefined,
      cmp.template_id ? api<Template>(app, c, 'GET', `/v1/templates/${cmp.template_id}`) : undefined,
    ]);
    const segmentName = segment?.ok ? segment.body.name : `#${cmp.segment_id}`;
    const templateName = template?.ok ? template.body.name : `#${cmp.template_id}`;
    return page(
      c,
      cmp.name,
      <>
        <p class="crumbs">
          <a href="/ui/campaigns">Campaigns</a> /
        </p>
        <div class="head">
          <h1>{cmp.name}</h1>
          {marketer && cmp.status === 'draft' && (
            <span>
              <a class="button secondary" href={`/ui/campaigns/${id}/edit`}>
                Edit
              </a>{' '}
              <a class="button" href={`/ui/campaigns/${id}/launch`}>
                Launch…
              </a>
            </span>
          )}
          {marketer && ['sending', 'scheduled', 'paused'].includes(cmp.status) && (
            <form
              method="post"
              action={`/ui/campaigns/${id}/${cmp.status === 'paused' ? 'resume' : 'pause'}`}
            >
              <Csrf token={c.var.csrf} />
              <button type="submit" class="secondary">
                {cmp.status === 'paused' ? 'Resume' : 'Pause'}
              </button>
            </form>
          )}
        </div>
        <section class="card">
          <Progress cmp={cmp} />
          <dl class="kv">
            <dt>Segment</dt>
            <dd>{cmp.segment_id ? <a href={`/ui/segments/${cmp.segment_id}`}>{segmentName}</a> : '—'}</dd>
            <dt>Template</dt>
            <dd>
              {cmp.template_id ? <a href={`/ui/templates/${cmp.template_id}`}>{templateName}</a> : '—'}
              {cmp.template_version ? ` v${cmp.template_version}` : ''}
            </dd>
            <dt>Offers per email</dt>
            <dd>{cmp.offers_per_email}</dd>
            <dt>Holdout</dt>
            <dd>{cmp.holdout_percent ? `${cmp.holdout_percent} %` : 'none'}</dd>
            <dt>Offer ranking</dt>
            <dd>
              {cmp.ranker.mode === 'learning'
                ? `learning (${cmp.ranker.objective}${cmp.ranker.segment_cells ? ', per segment cell' : ''}, ${asPercent(cmp.ranker.exploration)} % exploration)`
                : 'by priority'}
            </dd>
            <dt>Send time</dt>
            <dd>{cmp.send_at_best_hour ? 'each customer’s best hour within 24 hours' : 'at once'}</dd>
            <dt>Variants</dt>
            <dd>{cmp.variants.map((v) => `${v.name} (${v.weight})`).join(', ') || '—'}</dd>
            <dt>Throttle</dt>
            <dd>{cmp.throttle_per_second ? `${cmp.throttle_per_second}/s` : 'none'}</dd>
            {cmp.ab_test && cmp.ab_state && (
              <AbTestSummary
                cmp={cmp}
                test={cmp.ab_test}
                state={cmp.ab_state}
                csrf={c.var.csrf}
                marketer={marketer}
              />
            )}
          </dl>
        </section>
        {can(role, ACCESS.reports) && <LiveReport cmp={cmp} r={r} points={points} />}
      </>,
      { scripts: ['/ui/vendor/chart.js'] },
    );
  });
}

/** The report, polled every few seconds while the campaign sends (so it grows without a reload). */
function LiveReport(props: { cmp: Campaign; r: CampaignReport | undefined; points: TimeseriesPoint[] }) {
  const live = ['sending', 'scheduled', 'paused'].includes(props.cmp.status);
  return (
    <div
      id="report-live"
      {...(live
        ? {
            'hx-get': `/ui/campaigns/${props.cmp.id}/report`,
            'hx-trigger': 'every 3s',
            'hx-swap': 'outerHTML',
          }
        : {})}
    >
      {props.r && props.r.totals.sent > 0 && <Report r={props.r} points={props.points} id={props.cmp.id} />}
    </div>
  );
}

function Report(props: { r: CampaignReport; points: TimeseriesPoint[]; id: number }) {
  const { r, points } = props;
  const t = r.totals;
  return (
    <section class="card report" id="report">
      <div class="head">
        <h2>Report</h2>
        <span class="buttons">
          <CsvLink apiPath={`/v1/reports/campaigns/${props.id}`} />
          <CsvLink apiPath={`/v1/reports/campaigns/${props.id}/timeseries`} label="Over time (CSV)" />
        </span>
      </div>
      <Funnel totals={t} currency={r.currency} />
      <UnconvertedRevenue report={r} />
      {r.ab_test ? <AbResults t={r.ab_test} currency={r.currency} /> : <VariantResults r={r} />}
      <OfferResults offers={r.offers} currency={r.currency} />
      <RecommendedProductResults products={r.recommendations.products} currency={r.currency} />
      <ReplacedOffers replacements={r.replacements} />
      <IncrementalResults inc={r.incremental} />
      <Activity points={points} interval="hour" />
    </section>
  );
}

type VariantRow = CampaignReport['variants'][number];

const variantColumns = (currency: string): Array<Column<VariantRow>> => [
  { label: 'Variant', cell: (v) => v.variant ?? '—' },
  { label: 'Sent', num: true, cell: (v) => v.sent },
  { label: 'Open', num: true, cell: (v) => pct(v.open_rate) },
  { label: 'Click', num: true, cell: (v) => pct(v.click_rate) },
  { label: 'Conversion', num: true, cell: (v) => pct(v.conversion_rate) },
  { label: `Revenue (${currency})`, num: true, cell: (v) => money(v.revenue) },
];

/** Variants of a campaign without an A/B test: the significance of the leader, if any. */
function VariantResults(props: { r: CampaignReport }) {
  const { r } = props;
  return (
    <>
      <h3>Variants</h3>
      {r.ab && (
        <p class={r.ab.winner ? 'notice' : 'muted'} id="ab-verdict">
          {r.ab.winner
            ? `Variant ${r.ab.winner} is ahead on ${r.ab.metric} rate (p = ${r.ab.p_value?.toFixed(4)}, ${Math.round(r.ab.confidence * 100)}% confidence).`
            : `No significant difference on ${r.ab.metric} rate between ${r.ab.leader} and ${r.ab.runner_up}${r.ab.p_value !== null ? ` (p = ${r.ab.p_value.toFixed(3)})` : ''}.`}
        </p>
      )}
      <Table
        rows={r.variants}
        rowClass={(v) => (r.ab?.winner && r.ab.winner === v.variant ? 'winner' : undefined)}
        columns={variantColumns(r.currency)}
      />
    </>
  );
}

/**
 * An A/B test with a winner send-out: one verdict (the test's own decision and why), the test
 * cell's variants, and the send-out to the rest of the audience apart from them.
 */
function AbResults(props: { t: NonNullable<CampaignReport['ab_test']>; currency: string }) {
  const { t } = props;
  const verdict = t.winner
    ? `Winner: ${t.winner}${t.detail ? `. ${t.detail}` : ''}`
    : t.window_ends_at
      ? `Testing on ${t.metric} rate until ${fmtDate(t.window_ends_at)} UTC: no winner yet.`
      : `Testing on ${t.metric} rate: no winner yet.`;
  return (
    <>
      <h3>A/B test</h3>
      <p class={t.winner ? 'notice' : 'muted'} id="ab-verdict">
        {verdict}
      </p>
      <h4>Test cell ({t.test_percent} % of the audience)</h4>
      <Table
        rows={t.test_cell.variants}
        rowClass={(v) => (t.winner && t.winner === v.variant ? 'winner' : undefined)}
        columns={variantColumns(props.currency)}
      />
      <h4>Winner send-out (the rest of the audience)</h4>
      {t.winner_send_out ? (
        <Table rows={[t.winner_send_out]} columns={variantColumns(props.currency)} />
      ) : (
        <p class="muted" id="send-out-pending">
          Not sent yet: it goes out when the test picks its winner.
        </p>
      )}
    </>
  );
}
