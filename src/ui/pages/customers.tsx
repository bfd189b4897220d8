import type { Context, Hono } from 'hono';
import { audit } from '../../http/audit.js';
import type { App } from '../../http/env.js';
import { ACCESS } from '../../http/roles.js';
import { api, must, UiError } from '../api.js';
import type {
  Consents,
  Customer,
  Decision,
  Message,
  Messages,
  Purchases,
  Recommendations,
  StoredEvents,
  Timeline,
} from '../api-types.js';
import type { UiEnv } from '../env.js';
import { Csrf, can, type Errors, Field, FormErrors, fmtDate, money, page, str, When } from '../kit.js';
import { searchCustomers } from '../store.js';
import { ConsentHistory, PrivacyActions, registerCustomerPrivacyPages } from './customer-privacy.js';
import { FEED_LABELS, priceText } from './products.js';

const FEEDS = ['bought_together', 'top_in_category', 'replenish', 'new_arrivals'] as const;
const PER_FEED = 3;

/**
 * The customer's feeds. The first read recomputes feeds older than their last purchase, so it
 * goes alone and the other feeds read what it stored.
 */
async function recommendationsOf(app: App, c: Context<UiEnv>, id: number) {
  const read = (feed: string) =>
    api<Recommendations>(app, c, 'GET', `/v1/customers/${id}/recommendations?feed=${feed}&limit=${PER_FEED}`);
  const first = await read(FEEDS[0]);
  const rest = await Promise.all(FEEDS.slice(1).map(read));
  return [first, ...rest]
    .map((res, i) => ({ feed: FEEDS[i]!, items: res.ok ? res.body.data : [] }))
    .filter((f) => f.items.length > 0);
}

/** What the customer would get next from each feed, with why (the products blocks read the same). */
function NextProducts(props: {
  feeds: Awaited<ReturnType<typeof recommendationsOf>>;
  linkProducts: boolean;
}) {
  return (
    <section class="card" id="recommendations" aria-labelledby="recommendations-h">
      <h2 id="recommendations-h">Recommended next</h2>
      {props.feeds.length === 0 ? (
        <p class="muted">No product to recommend yet.</p>
      ) : (
        props.feeds.map((f) => (
          <>
            <h3>{FEED_LABELS[f.feed]}</h3>
            <ol class="offers" data-feed={f.feed}>
              {f.items.map((r) => (
                <li>
                  {props.linkProducts ? (
                    <a href={`/ui/products/${encodeURIComponent(r.sku)}`}>{r.title}</a>
                  ) : (
                    <strong>{r.title}</strong>
                  )}{' '}
                  <span class="muted">{priceText(r.price, r.currency)}</span>
                  <br />
                  <small>{r.reason}</small>
                </li>
              ))}
            </ol>
          </>
        ))
      )}
    </section>
  );
}

const KINDS = ['note', 'call', 'visit', 'email', 'meeting', 'complaint', 'social'];
const CHANNELS = ['', 'phone', 'visit', 'email', 'facebook', 'instagram', 'whatsapp', 'sms', 'other'];

/** A free-form JSON value (profile extras, event data) as text; objects and absent values are empty. */
const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

const fullName = (c: { first_name: string | null; last_name: string | null; email?: string | null }) =>
  [c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || '(no name)';

function NoteForm(props: { id: number; csrf: string; errors?: Errors; values?: Record<string, unknown> }) {
  const v = props.values ?? {};
  return (
    <form
      method="post"
      action={`/ui/customers/${props.id}/notes`}
      class="stack"
      data-offline-queue="notes"
      id="note-form"
    >
      <Csrf token={props.csrf} />
      <FormErrors errors={props.errors} fields={['kind', 'channel', 'text', 'author', 'at']} />
      <div class="row">
        <Field
          name="kind"
          label="Kind"
          value={(v.kind as string) ?? 'note'}
          options={KINDS.map((k) => ({ value: k, label: k }))}
          errors={props.errors}
        />
        <Field
          name="channel"
          label="Channel"
          value={(v.channel as string) ?? ''}
          options={CHANNELS.map((k) => ({ value: k, label: k || '—' }))}
          errors={props.errors}
        />
      </div>
      <Field
        name="text"
        label="What happened"
        textarea
        rows={3}
        value={v.text as string}
        errors={props.errors}
        required
      />
      <button type="submit">Add to history</button>
      <ul class="pending" id="pending-notes" aria-live="polite"></ul>
    </form>
  );
}

/** Customer search and the 360° card. */
/** Emails the customer is due to get (automated ones with their date), each cancellable by staff. */
function ComingUp(props: { messages: Message[]; csrf: string; canCancel: boolean }) {
  return (
    <section class="card" id="coming-up">
      <h2>Coming up</h2>
      <ul class="plain">
        {props.messages.map((m) => (
          <li data-message={m.id}>
            <strong>{m.trigger_name ?? m.campaign_name ?? `message ${m.id}`}</strong>{' '}
            <span class="muted">
              {m.trigger_id ? 'automated' : 'campaign'} ·{' '}
              {m.status === 'held'
                ? 'waits for the A/B winner'
                : m.status === 'sending'
                  ? 'being sent'
                  : m.policy_reason === 'quiet_hours' && m.send_at
                    ? `held for quiet hours until ${fmtDate(m.send_at)}`
                    : m.send_at
                      ? `due ${fmtDate(m.send_at)}`
                      : 'due now'}
            </span>
            {props.canCancel && m.status !== 'sending' && (
              <details>
                <summary>Don’t send it…</summary>
                <form
                  method="post"
                  action={`/ui/customers/${m.customer_id}/messages/${m.id}/cancel`}
                  class="stack"
                >
                  <Csrf token={props.csrf} />
                  <Field name="reason" label="Why (kept on the contact history)" />
                  <button type="submit" class="danger">
                    Cancel this email
                  </button>
                </form>
              </details>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Why the contact policy kept a message from the customer, as staff read it. */
const POLICY_REASONS: Record<string, string> = {
  daily_cap: 'daily cap reached',
  weekly_cap: 'weekly cap reached',
  outranked: 'a higher-priority email took the last slot',
  complaint_suspension: 'promotional mail suspended after a complaint',
};

/** Emails the contact policy dropped lately (caps, priority, complaint suspension), with why. */
function HeldBack(props: { messages: Message[] }) {
  return (
    <section class="card" id="held-back">
      <h2>Held back by the contact policy</h2>
      <ul class="plain">
        {props.messages.map((m) => (
          <li data-message={m.id}>
            <strong>{m.trigger_name ?? m.campaign_name ?? `message ${m.id}`}</strong>{' '}
            <span class="muted">
              {fmtDate(m.created_at)} · {POLICY_REASONS[m.policy_reason ?? ''] ?? m.policy_reason}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** An event's properties as name: value lines (nested values shown as their JSON). */
function EventProperties(props: { properties: Record<string, unknown> }) {
  const entries = Object.entries(props.properties);
  if (entries.length === 0) return null;
  return (
    <dl class="kv small event-properties">
      {entries.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd class="break">{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </>
      ))}
    </dl>
  );
}

export function registerCustomerPages(ui: Hono<UiEnv>, app: App): void {
  registerCustomerPrivacyPages(ui, app);
  ui.get('/ui/customers', async (c) => {
    if (!can(c.var.auth.role, ACCESS.customerRead))
      throw new UiError(403, 'Your role may not read customers');
    const q = c.req.query('q') ?? '';
    const hits = await searchCustomers(c.var.deps.sql, q.slice(0, 200));
    // The hits show names and addresses: a read of personal data (the query itself is not kept).
    await audit(c, {
      action: 'customer.search',
      entity: 'customer',
      data: { count: hits.length, customer_ids: hits.map((h) => h.id), query: q.trim() !== '' },
    });
    return page(
      c,
      'Customers',
      <>
        <h1>Customers</h1>
        <form method="get" action="/ui/customers" class="search">
          <input
            type="search"
            name="q"
            value={q}
            placeholder="Name, email, external id or id"
            aria-label="Search customers"
          />
          <button type="submit">Search</button>
        </form>
        <ul class="list">
          {hits.map((h) => (
            <li>
              <a href={`/ui/customers/${h.id}`} class="tap">
                <strong>{fullName(h)}</strong>
                <span class="muted">
                  {h.email ?? ''} · {h.external_id}
                </span>
              </a>
            </li>
          ))}
        </ul>
        {hits.length === 0 && <p class="muted">No customer matches.</p>}
      </>,
    );
  });

  const card = async (c: Context<UiEnv>, errors?: Errors, values?: Record<string, unknown>) => {
    const id = Number(c.req.param('id') ?? '');
    if (!Number.isSafeInteger(id) || id <= 0) throw new UiError(404, 'No such customer');
    const role = c.var.auth.role;
    const before = c.req.query('before');
    const [customer, consents, purchases, timeline, decision, coming, custom, dropped, next] =
      await Promise.all([
        api<Customer>(app, c, 'GET', `/v1/customers/${id}`),
        api<Consents>(app, c, 'GET', `/v1/customers/${id}/consents`),
        api<Purchases>(app, c, 'GET', `/v1/customers/${id}/purchases?limit=20`),
        api<Timeline>(
          app,
          c,
          'GET',
          `/v1/customers/${id}/timeline?limit=100${before ? `&cursor=${encodeURIComponent(before)}` : ''}`,
        ),
        can(role, ACCESS.decisions)
          ? api<Decision>(app, c, 'POST', '/v1/decisions', { customer_id: id, placements: 3, explain: true })
          : Promise.resolve(undefined),
        api<Messages>(app, c, 'GET', `/v1/customers/${id}/messages?status=queued,held,sending&limit=20`),
        api<StoredEvents>(app, c, 'GET', `/v1/customers/${id}/events?limit=20`),
        api<Messages>(app, c, 'GET', `/v1/customers/${id}/messages?status=suppressed&limit=20`),
        recommendationsOf(app, c, id),
      ]);
    const heldBack = dropped.ok ? dropped.body.data.filter((m) => m.policy_reason !== null) : [];
    const p = must(customer);
    const current = consents.ok ? consents.body.current : {};
    const events = timeline.ok ? timeline.body.data : [];
    const lines = purchases.ok ? purchases.body.data : [];
    const d = decision?.ok ? decision.body : undefined;
    return page(
      c,
      fullName(p),
      <>
        <p class="crumbs">
          <a href="/ui/customers">Customers</a> /
        </p>
        <h1>{fullName(p)}</h1>
        <div class="cards">
          <section class="card">
            <h2>Profile</h2>
            <dl class="kv">
              <dt>Email</dt>
              <dd>{p.email ?? '—'}</dd>
              <dt>External id</dt>
              <dd>{p.external_id}</dd>
              <dt>Locale</dt>
              <dd>{p.locale ?? '—'}</dd>
              <dt>Birth date</dt>
              <dd>{p.birth_date ?? '—'}</dd>
              <dt>City</dt>
              <dd>{text(p.address?.city) || '—'}</dd>
              <dt>Occupation</dt>
              <dd>{p.occupation ?? '—'}</dd>
              <dt>Likes</dt>
              <dd>{[...(p.preferred_categories ?? []), ...(p.hobbies ?? [])].join(', ') || '—'}</dd>
              <dt>Family</dt>
              <dd>{(p.family ?? []).map((f) => text(f.relation) || text(f.name)).join(', ') || '—'}</dd>
            </dl>
          </section>
          <ConsentHistory
            customerId={id}
            history={consents.ok ? consents.body.data : []}
            current={current}
            csrf={c.var.csrf}
            canWrite={can(role, ACCESS.customerWrite) && !p.erased_at}
          />
          {d && (
            <section class="card">
              <h2>Offers now</h2>
              {d.offers.length === 0 ? (
                <p class="muted">No offer fits.</p>
              ) : (
                <ol class="offers">
                  {d.offers.map((o) => (
                    <li>
                      <strong>{o.title}</strong> <span class="muted">{o.name}</span>
                      <br />
                      <small>
                        score {Number(o.score).toFixed(2)}
                        {o.fallback ? ' · fallback' : ''}
                        {o.code ? ` · code ${o.code}` : ''}
                      </small>
                    </li>
                  ))}
                </ol>
              )}
              {d.excluded && d.excluded.length > 0 && (
                <details>
                  <summary>Why not the others ({d.excluded.length})</summary>
                  <ul class="plain small">
                    {d.excluded.map((x) => (
                      <li>
                        <strong>{x.name}</strong>: {x.reasons.map((r) => r.message).join('; ')}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
            </section>
          )}
        </div>
        {!p.erased_at && <NextProducts feeds={next} linkProducts={can(role, ACCESS.marketingRead)} />}
        {can(role, ACCESS.interactions) && (
          <section class="card">
            <h2>Add a note or interaction</h2>
            <NoteForm
              id={id}
              csrf={c.var.csrf}
              {...(errors ? { errors } : {})}
              {...(values ? { values } : {})}
            />
          </section>
        )}
        {coming.ok && coming.body.data.length > 0 && (
          <ComingUp
            messages={coming.body.data}
            csrf={c.var.csrf}
            canCancel={can(role, ACCESS.interactions)}
          />
        )}
        {heldBack.length > 0 && <HeldBack messages={heldBack} />}
        <PrivacyActions customerId={id} csrf={c.var.csrf} role={role} erased={Boolean(p.erased_at)} />
        <section class="card">
          <h2>Purchases</h2>
          {lines.length === 0 ? (
            <p class="muted">No purchases.</p>
          ) : (
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th>Date</th>
                    <th>Order</th>
                    <th>Item</th>
                    <th>Category</th>
                    <th class="num">Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {lines.map((l) => (
                    <tr>
                      <td>
                        <When iso={l.purchased_at} />
                      </td>
                      <td>{l.order_ref}</td>
                      <td>{l.sku}</td>
                      <td>{l.category}</td>
                      <td class="num">
                        {money(l.amount)} {l.currency}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        {custom.ok && (
          <section class="card" id="customer-events" aria-labelledby="customer-events-h">
            <h2 id="customer-events-h">Recent events</h2>
            {custom.body.data.length === 0 ? (
              <p class="muted">No event recorded.</p>
            ) : (
              <ol class="timeline">
                {custom.body.data.map((e) => (
                  <li class="ev ev-event">
                    <strong>{e.name}</strong> <When iso={e.at} />
                    <EventProperties properties={e.properties} />
                  </li>
                ))}
              </ol>
            )}
          </section>
        )}
        <section class="card">
          <h2>Contact history</h2>
          <ol class="timeline" id="timeline">
            {events.map((e) => (
              <li class={`ev ev-${e.kind}`}>
                <span class="badge">{e.kind}</span> <When iso={e.at} />
                {e.channel ? <span class="muted"> · {e.channel}</span> : null}
                {e.author ? <span class="muted"> · {e.author}</span> : null}
                {e.campaign_id ? (
                  <span class="muted">
                    {' '}
                    · <a href={`/ui/campaigns/${e.campaign_id}`}>campaign {e.campaign_id}</a>
                  </span>
                ) : null}
                {e.text ? <p>{e.text}</p> : null}
                {e.kind === 'purchase' ? (
                  <p>
                    {[
                      Number(e.data.quantity) > 1 ? `${text(e.data.quantity)} ×` : '',
                      text(e.data.sku),
                      text(e.data.category),
                    ]
                      .filter(Boolean)
                      .join(' ')}{' '}
                    {money(Number(e.data.amount))} {text(e.data.currency)}
                    {e.data.order_ref ? <span class="muted"> · order {text(e.data.order_ref)}</span> : null}
                  </p>
                ) : null}
                {e.kind === 'event' ? (
                  <>
                    <p>
                      <strong>{text(e.data.name)}</strong>
                    </p>
                    <EventProperties properties={(e.data.properties ?? {}) as Record<string, unknown>} />
                  </>
                ) : null}
                {e.kind === 'converted' && e.data.revenue ? (
                  <p>revenue {money(Number(e.data.revenue))}</p>
                ) : null}
              </li>
            ))}
          </ol>
          {events.length === 0 && <p class="muted">Nothing yet.</p>}
          {timeline.ok && timeline.body.next_cursor && (
            <a
              class="button secondary"
              href={`/ui/customers/${id}?before=${encodeURIComponent(timeline.body.next_cursor)}`}
            >
              Older events
            </a>
          )}
        </section>
      </>,
      { status: errors ? 422 : 200 },
    );
  };

  ui.get('/ui/customers/:id{[0-9]+}', (c) => card(c));

  ui.post('/ui/customers/:id{[0-9]+}/messages/:message{[0-9]+}/cancel', async (c) => {
    const id = Number(c.req.param('id'));
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const reason = str(form, 'reason');
    const res = await api(app, c, 'POST', `/v1/messages/${Number(c.req.param('message'))}/cancel`, {
      ...(reason ? { reason } : {}),
    });
    if (!res.ok) throw new UiError(res.status, res.detail ?? 'The email could not be cancelled');
    return c.redirect(`/ui/customers/${id}`, 303);
  });

  ui.post('/ui/customers/:id{[0-9]+}/notes', async (c) => {
    const id = Number(c.req.param('id'));
    const form = await c.req.parseBody();
    const body: Record<string, unknown> = {
      kind: str(form, 'kind') ?? 'note',
      text: str(form, 'text') ?? '',
      author: c.var.auth.name,
    };
    const channel = str(form, 'channel');
    if (channel) body.channel = channel;
    const at = str(form, 'at');
    if (at) body.at = at;
    const clientRef = str(form, 'client_ref');
    if (clientRef) body.client_ref = clientRef;
    const res = await api(app, c, 'POST', `/v1/customers/${id}/interactions`, body);
    if (res.status === 422) return card(c, res.errors, form);
    must(res);
    return c.redirect(`/ui/customers/${id}#timeline`, 303);
  });
}
