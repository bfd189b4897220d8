import type { Context, Hono } from 'hono';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { api, must } from '../api.js';
import type { Segment, SegmentPreview, Segments } from '../api-types.js';
import type { UiEnv } from '../env.js';
import {
  Csrf,
  can,
  type Errors,
  Field,
  FormErrors,
  jsonField,
  ListHead,
  page,
  SaveButton,
  str,
  Table,
  When,
} from '../kit.js';
import { submitForm } from '../submit.js';
import { RuleBuilder } from './rule-builder.js';

const EXAMPLE_RULE = JSON.stringify({ '>': [{ var: 'total_spent' }, 100] }, null, 2);

/** The rule tester and live count: shared by segments and offers. */
export function RuleTools(props: { ruleField: string; count?: boolean }) {
  return (
    <div class="tools">
      {props.count && (
        <div class="field">
          <button
            type="button"
            class="secondary"
            hx-post="/ui/segments/count"
            hx-include={`[name='${props.ruleField}']`}
            hx-target="#count"
          >
            Count customers
          </button>
          <output id="count" aria-live="polite" class="count"></output>
        </div>
      )}
      <details class="tester">
        <summary>Test the rule</summary>
        <div class="row">
          <Field name="test_customer_id" label="Against customer id" type="number" />
          <Field name="test_data" label="…or sample data (JSON)" textarea rows={3} />
        </div>
        <button
          type="button"
          class="secondary"
          hx-post="/ui/rules/test"
          hx-include={`[name='${props.ruleField}'], [name='test_customer_id'], [name='test_data']`}
          hx-target="#test-result"
        >
          Run
        </button>
        <output id="test-result" aria-live="polite"></output>
      </details>
    </div>
  );
}

function SegmentForm(props: {
  csrf: string;
  readOnly?: boolean | undefined;
  action: string;
  values: Record<string, unknown>;
  errors?: Errors | undefined;
  detail?: string | undefined;
}) {
  const v = props.values;
  return (
    <form method="post" action={props.action} class="card stack" id="segment-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={props.errors} fields={['name', 'description', 'rule']} detail={props.detail} />
      <Field name="name" label="Name" value={v.name as string} errors={props.errors} required />
      <Field name="description" label="Description" value={v.description as string} errors={props.errors} />
      <RuleBuilder target="f-rule" scope="segment" count />
      <Field
        name="rule"
        label="Rule (JSON Logic)"
        textarea
        rows={10}
        value={(v.rule as string) ?? EXAMPLE_RULE}
        errors={props.errors}
        hint={
          'Variables: total_spent, orders_count, days_since_last_purchase, age, locale, preferred_categories…; operators: {"purchased_in": ["garden", 90]}, {">": [{"spent_in": ["garden", 90]}, 100]}, {"days_since": {"var": "last_purchase_at"}} (docs/rules.md)'
        }
        attrs={{ class: 'code', spellcheck: false }}
      />
      <RuleTools ruleField="rule" count />
      <SaveButton label="Save segment" readOnly={props.readOnly} />
    </form>
  );
}

/** The form's JSON body for the API, or the field errors found before calling it. */
function segmentBody(form: Record<string, unknown>): {
  body?: Record<string, unknown>;
  errors?: FieldError[];
} {
  const rule = jsonField(form, 'rule');
  if (rule.error) return { errors: [rule.error] };
  return {
    body: { name: str(form, 'name') ?? '', description: str(form, 'description') ?? null, rule: rule.value },
  };
}

export function registerSegmentPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/segments', async (c) => {
    const list = must(await api<Segments>(app, c, 'GET', '/v1/segments?limit=200'));
    return page(
      c,
      'Segments',
      <>
        <ListHead
          title="Segments"
          newHref="/ui/segments/new"
          newLabel="New segment"
          canCreate={can(c.var.auth.role, ACCESS.marketing)}
        />
        <Table
          rows={list.data}
          columns={[
            { label: 'Name', cell: (s) => <a href={`/ui/segments/${s.id}`}>{s.name}</a> },
            { label: 'Evaluation', cell: (s) => s.evaluation },
            { label: 'Updated', cell: (s) => <When iso={s.updated_at} /> },
          ]}
        />
      </>,
    );
  });

  ui.get('/ui/segments/new', (c) =>
    page(
      c,
      'New segment',
      <>
        <h1>New segment</h1>
        <SegmentForm csrf={c.var.csrf} action="/ui/segments" values={{}} />
      </>,
    ),
  );

  ui.post('/ui/segments', (c) =>
    submitForm(c, app, {
      method: 'POST',
      path: '/v1/segments',
      build: segmentBody,
      title: 'New segment',
      render: (state) => <SegmentForm csrf={c.var.csrf} action="/ui/segments" {...state} />,
      redirect: (created) => `/ui/segments/${created.id}?saved=1`,
    }),
  );

  ui.get('/ui/segments/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    const s = must(await api<Segment>(app, c, 'GET', `/v1/segments/${id}`));
    const preview = can(c.var.auth.role, ACCESS.marketing)
      ? await api<SegmentPreview>(app, c, 'POST', '/v1/segments/preview', { rule: s.rule })
      : undefined;
    return page(
      c,
      s.name,
      <>
        <p class="crumbs">
          <a href="/ui/segments">Segments</a> /
        </p>
        <h1>{s.name}</h1>
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        {preview?.ok && (
          <p class="big" id="segment-count">
            <strong>{preview.body.count.toLocaleString('en-GB')}</strong> customers now (
            {preview.body.evaluation})
          </p>
        )}
        <SegmentForm
          csrf={c.var.csrf}
          readOnly={!can(c.var.auth.role, ACCESS.marketing)}
          action={`/ui/segments/${id}`}
          values={{ name: s.name, description: s.description, rule: JSON.stringify(s.rule, null, 2) }}
        />
      </>,
    );
  });

  ui.post('/ui/segments/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/segments/${id}`,
      build: segmentBody,
      title: 'Edit segment',
      render: (state) => <SegmentForm csrf={c.var.csrf} action={`/ui/segments/${id}`} {...state} />,
      redirect: () => `/ui/segments/${id}?saved=1`,
    });
  });

  ui.post('/ui/segments/count', async (c) => {
    const form = await c.req.parseBody();
    const rule = jsonField(form, 'rule');
    if (rule.error) return c.html(<span class="error">{rule.error.message}</span>);
    const res = await api<SegmentPreview>(app, c, 'POST', '/v1/segments/preview', { rule: rule.value });
    if (!res.ok) return c.html(<span class="error">{problemText(res)}</span>);
    return c.html(
      <span>
        <strong data-count={res.body.count}>{res.body.count.toLocaleString('en-GB')}</strong> customers
      </span>,
    );
  });

  ui.post('/ui/rules/test', async (c) => {
    const form = await c.req.parseBody();
    const result = await testRule(app, c, form);
    return c.html(result);
  });
}

const problemText = (res: { errors: FieldError[]; detail?: string }) =>
  res.errors.length ? res.errors.map((e) => `${e.path}: ${e.message}`).join('; ') : (res.detail ?? 'failed');

/** Runs the rule through POST /v1/rules/evaluate, against a customer's context or sample data. */
async function testRule(app: App, c: Context<UiEnv>, form: Record<string, unknown>) {
  const ruleName = 'rule' in form ? 'rule' : 'eligibility';
  const rule = jsonField(form, ruleName);
  if (rule.error) return <span class="error">{rule.error.message}</span>;
  let data: unknown = null;
  const customerId = str(form, 'test_customer_id');
  if (customerId) {
    const ctx = await api(app, c, 'GET', `/v1/customers/${encodeURIComponent(customerId)}/context`);
    if (!ctx.ok) return <span class="error">customer: {problemText(ctx)}</span>;
    data = ctx.body;
  } else if (str(form, 'test_data')) {
    const parsed = jsonField(form, 'test_data');
    if (parsed.error) return <span class="error">sample data: {parsed.error.message}</span>;
    data = parsed.value;
  }
  const res = await api<{ result: unknown }>(app, c, 'POST', '/v1/rules/evaluate', {
    rule: rule.value,
    data,
  });
  if (!res.ok) return <span class="error">{problemText(res)}</span>;
  return (
    <span>
      Result: <code data-result>{JSON.stringify(res.body.result)}</code>
    </span>
  );
}
