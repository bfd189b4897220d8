import type { Context, Hono } from 'hono';
import type { App } from '../../http/env.js';
import type { FieldError } from '../../http/problem.js';
import { ACCESS } from '../../http/roles.js';
import { api, must } from '../api.js';
import type { CodePool, Offer, Offers } from '../api-types.js';
import type { UiEnv } from '../env.js';
import {
  Checkbox,
  Csrf,
  can,
  type Errors,
  Field,
  FormErrors,
  fmtDate,
  ListHead,
  num,
  optionalJsonField,
  page,
  SaveButton,
  str,
  Table,
  When,
} from '../kit.js';
import { submitForm } from '../submit.js';
import { CodePoolCard, type CodesState, codesBody } from './offer-codes.js';
import { RuleBuilder } from './rule-builder.js';
import { RuleTools } from './segments.js';

const FIELDS = [
  'name',
  'title',
  'text',
  'image_url',
  'url',
  'code',
  'category',
  'eligibility',
  'score',
  'priority',
  'valid_from',
  'valid_to',
  'cap_per_customer',
  'global_cap',
  'exclude_if_bought_within_days',
  'fallback',
  'holdout_percent',
  'product',
];

/** The product sources a marketer picks from (the recommendation feeds). */
const PRODUCT_FEEDS = [
  { value: '', label: 'No product: the offer as written' },
  { value: 'bought_together', label: 'Often bought with what they bought' },
  { value: 'top_in_category', label: 'Best sellers of their categories' },
  { value: 'replenish', label: 'Due for replenishment' },
  { value: 'new_arrivals', label: 'New arrivals in their categories' },
];

type Values = Record<string, unknown>;

function OfferForm(props: {
  csrf: string;
  readOnly?: boolean | undefined;
  action: string;
  values: Values;
  errors?: Errors | undefined;
  detail?: string | undefined;
}) {
  const v = props.values;
  const e = props.errors;
  const s = (name: string) => v[name] as string | undefined;
  return (
    <form method="post" action={props.action} class="card stack" id="offer-form" novalidate>
      <Csrf token={props.csrf} />
      <FormErrors errors={e} fields={FIELDS} detail={props.detail} />
      <div class="row">
        <Field name="name" label="Name" value={s('name')} errors={e} required />
        <Field name="title" label="Title (shown to customers)" value={s('title')} errors={e} required />
      </div>
      <Field name="text" label="Text" value={s('text')} errors={e} textarea rows={3} />
      <div class="row">
        <Field name="image_url" label="Image URL" type="url" value={s('image_url')} errors={e} />
        <Field name="url" label="Link URL" type="url" value={s('url')} errors={e} />
      </div>
      <div class="row">
        <Field name="code" label="Code" value={s('code')} errors={e} />
        <Field name="category" label="Category" value={s('category')} errors={e} />
      </div>
      <fieldset class="stack" id="offer-product">
        <legend>Product</legend>
        <p class="hint">
          About one of each customer's recommended products ("-15 % on a product picked for you"): the offer
          is filled per customer with their product (title, price in their currency, link, image); a customer
          without one is not offered it. In a template: <code>{'{{offer.product.title}}'}</code>.
        </p>
        <div class="row">
          <Field
            name="product.feed"
            label="Recommended product from"
            value={s('product.feed')}
            options={PRODUCT_FEEDS}
            errors={e}
          />
          <Field
            name="product.rank"
            label="Which one (1 = the best)"
            type="number"
            value={s('product.rank')}
            errors={e}
            attrs={{ min: 1, max: 20 }}
          />
        </div>
        <div class="row">
          <Field
            name="product.skus"
            label="Only these SKUs (comma-separated)"
            value={s('product.skus')}
            errors={e}
            hint="Empty: every product of the feed"
          />
          <Field
            name="product.category"
            label="Only this product category"
            value={s('product.category')}
            errors={e}
          />
        </div>
      </fieldset>
      <RuleBuilder target="f-eligibility" scope="offer" count />
      <Field
        name="eligibility"
        label="Eligibility rule (JSON Logic)"
        textarea
        rows={6}
        value={s('eligibility')}
        errors={e}
        hint="Empty: every customer is eligible. Variables as for segments (docs/rules.md)."
        attrs={{ class: 'code', spellcheck: false }}
      />
      <RuleTools ruleField="eligibility" />
      <div class="row">
        <Field
          name="score"
          label="Score rule (JSON Logic, numeric)"
          textarea
          rows={3}
          value={s('score')}
          errors={e}
          hint="Empty: the priority is the score."
          attrs={{ class: 'code', spellcheck: false }}
        />
        <Field name="priority" label="Priority" type="number" value={s('priority')} errors={e} />
      </div>
      <div class="row">
        <Field
          name="valid_from"
          label="Valid from (UTC)"
          type="datetime-local"
          value={s('valid_from')}
          errors={e}
        />
        <Field
          name="valid_to"
          label="Valid to (UTC)"
          type="datetime-local"
          value={s('valid_to')}
          errors={e}
        />
      </div>
      <div class="row">
        <Field
          name="cap_per_customer.count"
          label="Per customer: at most"
          type="number"
          value={s('cap_per_customer.count')}
          errors={e}
          attrs={{ min: 0 }}
        />
        <Field
          name="cap_per_customer.days"
          label="…times in days"
          type="number"
          value={s('cap_per_customer.days')}
          errors={e}
          attrs={{ min: 1 }}
        />
      </div>
      <div class="row">
        <Field
          name="global_cap"
          label="Global cap"
          type="number"
          value={s('global_cap')}
          errors={e}
          attrs={{ min: 0 }}
        />
        <Field
          name="exclude_if_bought_within_days"
          label="Skip if its category was bought within (days)"
          type="number"
          value={s('exclude_if_bought_within_days')}
          errors={e}
          attrs={{ min: 0 }}
        />
        <Field
          name="holdout_percent"
          label="Holdout (%)"
          type="number"
          value={s('holdout_percent')}
          errors={e}
          attrs={{ min: 0, max: 50, step: 'any' }}
          hint="Of those it would be shown to, get the next offer instead: measures its own effect"
        />
      </div>
      <Checkbox
        name="fallback"
        label="Fallback: fills places left when too few targeted offers are eligible"
        checked={v.fallback === 'on' || v.fallback === true}
        errors={e}
      />
      <SaveButton label="Save offer" readOnly={props.readOnly} />
    </form>
  );
}

/** A datetime-local value is taken as UTC; anything else goes as typed so the API names the field. */
function timestamp(form: Values, name: string): string | null {
  const raw = str(form, name);
  if (raw === undefined) return null;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(raw)
    ? `${raw.length === 16 ? `${raw}:00` : raw}Z`
    : raw;
}

/** The product source from its fields, or null when no feed is chosen. */
function productBody(form: Values): Record<string, unknown> | null {
  const feed = str(form, 'product.feed');
  if (feed === undefined) return null;
  const skus = (str(form, 'product.skus') ?? '')
    .split(/[\s,;]+/)
    .map((sku) => sku.trim())
    .filter((sku) => sku !== '');
  const category = str(form, 'product.category');
  return {
    feed,
    rank: num(form, 'product.rank') ?? 1,
    ...(skus.length > 0 ? { skus } : {}),
    ...(category !== undefined ? { category } : {}),
  };
}

/** The form's JSON body for the API (every field, so an edit can clear one), or the errors found first. */
function offerBody(form: Values): { body?: Record<string, unknown>; errors?: FieldError[] } {
  const errors: FieldError[] = [];
  const eligibility = optionalJsonField(form, 'eligibility', errors);
  const score = optionalJsonField(form, 'score', errors);
  if (errors.length) return { errors };
  const count = num(form, 'cap_per_customer.count');
  const days = num(form, 'cap_per_customer.days');
  return {
    body: {
      name: str(form, 'name') ?? '',
      title: str(form, 'title') ?? '',
      text: str(form, 'text') ?? null,
      image_url: str(form, 'image_url') ?? null,
      url: str(form, 'url') ?? null,
      code: str(form, 'code') ?? null,
      category: str(form, 'category') ?? null,
      eligibility,
      score,
      priority: num(form, 'priority') ?? 0,
      valid_from: timestamp(form, 'valid_from'),
      valid_to: timestamp(form, 'valid_to'),
      cap_per_customer: count === undefined && days === undefined ? null : { count, days },
      global_cap: num(form, 'global_cap') ?? null,
      exclude_if_bought_within_days: num(form, 'exclude_if_bought_within_days') ?? null,
      fallback: form.fallback === 'on' || form.fallback === 'true',
      holdout_percent: num(form, 'holdout_percent') ?? 0,
      product: productBody(form),
    },
  };
}

const pretty = (rule: unknown) => (rule === null || rule === undefined ? '' : JSON.stringify(rule, null, 2));
const local = (iso: string | null) => (iso ? new Date(iso).toISOString().slice(0, 16) : '');

/** An offer from the API as the form's string values. */
function offerValues(o: Offer): Values {
  return {
    name: o.name,
    title: o.title,
    text: o.text,
    image_url: o.image_url,
    url: o.url,
    code: o.code,
    category: o.category,
    eligibility: pretty(o.eligibility),
    score: pretty(o.score),
    priority: String(o.priority),
    valid_from: local(o.valid_from),
    valid_to: local(o.valid_to),
    'cap_per_customer.count': o.cap_per_customer ? String(o.cap_per_customer.count) : '',
    'cap_per_customer.days': o.cap_per_customer ? String(o.cap_per_customer.days) : '',
    global_cap: o.global_cap === null ? '' : String(o.global_cap),
    exclude_if_bought_within_days:
      o.exclude_if_bought_within_days === null ? '' : String(o.exclude_if_bought_within_days),
    fallback: o.fallback,
    holdout_percent: o.holdout_percent ? String(o.holdout_percent) : '',
    'product.feed': o.product?.feed ?? '',
    'product.rank': o.product ? String(o.product.rank) : '',
    'product.skus': o.product?.skus?.join(', ') ?? '',
    'product.category': o.product?.category ?? '',
  };
}

export function registerOfferPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/offers', async (c) => {
    const list = must(await api<Offers>(app, c, 'GET', '/v1/offers?limit=200'));
    return page(
      c,
      'Offers',
      <>
        <ListHead
          title="Offers"
          newHref="/ui/offers/new"
          newLabel="New offer"
          canCreate={can(c.var.auth.role, ACCESS.marketing)}
        />
        <Table
          rows={list.data}
          columns={[
            { label: 'Name', cell: (o) => <a href={`/ui/offers/${o.id}`}>{o.name}</a> },
            { label: 'Title', cell: (o) => o.title },
            { label: 'Category', cell: (o) => o.category ?? '—' },
            {
              label: 'Product',
              cell: (o) =>
                o.product
                  ? (PRODUCT_FEEDS.find((f) => f.value === o.product!.feed)?.label ?? o.product.feed)
                  : '—',
            },
            { label: 'Valid', cell: (o) => `${fmtDate(o.valid_from)} → ${fmtDate(o.valid_to)}` },
          ]}
        />
      </>,
    );
  });

  ui.get('/ui/offers/new', (c) =>
    page(
      c,
      'New offer',
      <>
        <h1>New offer</h1>
        <OfferForm csrf={c.var.csrf} action="/ui/offers" values={{ priority: '0' }} />
      </>,
    ),
  );

  ui.post('/ui/offers', (c) =>
    submitForm(c, app, {
      method: 'POST',
      path: '/v1/offers',
      build: offerBody,
      title: 'New offer',
      render: (state) => <OfferForm csrf={c.var.csrf} action="/ui/offers" {...state} />,
      redirect: (created) => `/ui/offers/${created.id}?saved=1`,
    }),
  );

  /** The offer's page: its form, then its code pool (with what a refused codes form said). */
  const offerPage = async (c: Context<UiEnv>, id: number, codes?: CodesState) => {
    const [offer, pool] = await Promise.all([
      api<Offer>(app, c, 'GET', `/v1/offers/${id}`),
      api<CodePool>(app, c, 'GET', `/v1/offers/${id}/codes`),
    ]);
    const o = must(offer);
    const added = Number(c.req.query('codes_added') ?? '');
    return page(
      c,
      o.name,
      <>
        <p class="crumbs">
          <a href="/ui/offers">Offers</a> /
        </p>
        <h1>{o.name}</h1>
        {c.req.query('saved') && <p class="notice">Saved.</p>}
        <p class="muted">
          Version {o.version} · shown {o.shown_count.toLocaleString('en-GB')} times · updated{' '}
          <When iso={o.updated_at} />
        </p>
        <OfferForm
          csrf={c.var.csrf}
          readOnly={!can(c.var.auth.role, ACCESS.marketing)}
          action={`/ui/offers/${id}`}
          values={offerValues(o)}
        />
        {pool.ok && (
          <CodePoolCard
            offerId={id}
            pool={pool.body}
            csrf={c.var.csrf}
            canAdd={can(c.var.auth.role, ACCESS.marketing)}
            added={Number.isSafeInteger(added) && added > 0 ? added : undefined}
            {...(codes ? { state: codes } : {})}
          />
        )}
      </>,
      { status: codes?.status ?? 200 },
    );
  };

  ui.get('/ui/offers/:id{[0-9]+}', (c) => offerPage(c, Number(c.req.param('id'))));

  ui.post('/ui/offers/:id{[0-9]+}/codes', async (c) => {
    const id = Number(c.req.param('id'));
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const mode = form.mode === 'upload' ? 'upload' : 'generate';
    const built = await codesBody(form, mode);
    if (built.errors) return offerPage(c, id, { mode, values: form, errors: built.errors, status: 422 });
    const res = await api<{ added: number }>(app, c, 'POST', `/v1/offers/${id}/codes`, built.body);
    if (!res.ok) {
      if (res.status !== 422) must(res);
      return offerPage(c, id, {
        mode,
        values: form,
        errors: res.errors,
        detail: res.errors.length ? undefined : res.detail,
        status: res.status,
      });
    }
    return c.redirect(`/ui/offers/${id}?codes_added=${res.body.added}#codes`, 303);
  });

  ui.post('/ui/offers/:id{[0-9]+}', async (c) => {
    const id = Number(c.req.param('id'));
    return submitForm(c, app, {
      method: 'PATCH',
      path: `/v1/offers/${id}`,
      build: offerBody,
      title: 'Edit offer',
      render: (state) => <OfferForm csrf={c.var.csrf} action={`/ui/offers/${id}`} {...state} />,
      redirect: () => `/ui/offers/${id}?saved=1`,
    });
  });
}
