import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { ACCESS, type Role } from '../../http/roles.js';
import { api, apiResponse, UiError } from '../api.js';
import type { UiEnv } from '../env.js';
import { Csrf, can, str, When } from '../kit.js';

// Privacy on the customer card: the consent history with withdraw/grant (and where the decision
// came from), the personal-data export as a JSON download, and erasure behind a typed
// confirmation. Each goes through the API, so its roles, audit and transaction apply.

/** The word an admin types to confirm an erasure. */
export const ERASE_WORD = 'ERASE';

const PURPOSES = ['marketing_email', 'profiling'];

export function ConsentHistory(props: {
  customerId: number;
  history: Array<{ id: number; purpose: string; granted: boolean; source: string; at: string }>;
  current: Record<string, { granted: boolean; source: string; at: string }>;
  csrf: string;
  canWrite: boolean;
}) {
  const purposes = [...new Set([...PURPOSES, ...Object.keys(props.current)])];
  return (
    <section class="card" id="consents" aria-labelledby="consents-h">
      <h2 id="consents-h">Consents</h2>
      <ul class="plain">
        {purposes.map((purpose) => {
          const cur = props.current[purpose];
          return (
            <li data-purpose={purpose}>
              <span class={cur?.granted ? 'badge ok' : 'badge no'}>
                {cur ? (cur.granted ? 'granted' : 'withdrawn') : 'not asked'}
              </span>{' '}
              {purpose}{' '}
              {cur && (
                <span class="muted">
                  ({cur.source}, <When iso={cur.at} />)
                </span>
              )}
              {props.canWrite && (
                <form method="post" action={`/ui/customers/${props.customerId}/consents`} class="inline-form">
                  <Csrf token={props.csrf} />
                  <input type="hidden" name="purpose" value={purpose} />
                  <input type="hidden" name="granted" value={cur?.granted ? 'false' : 'true'} />
                  <label class="sr-only" for={`source-${purpose}`}>
                    Source of the decision on {purpose}
                  </label>
                  <input
                    id={`source-${purpose}`}
                    name="source"
                    value="phone"
                    list="consent-sources"
                    class="compact"
                    required
                  />
                  <button type="submit" class="secondary">
                    {cur?.granted ? 'Withdraw' : 'Grant'}
                  </button>
                </form>
              )}
            </li>
          );
        })}
      </ul>
      <datalist id="consent-sources">
        <option value="phone"></option>
        <option value="in_store"></option>
        <option value="email"></option>
        <option value="letter"></option>
      </datalist>
      {props.history.length > 0 && (
        <details>
          <summary>History ({props.history.length})</summary>
          <ol class="plain small" id="consent-history">
            {props.history.map((h) => (
              <li>
                <When iso={h.at} />: {h.purpose} {h.granted ? 'granted' : 'withdrawn'} ({h.source})
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
}

export function PrivacyActions(props: { customerId: number; csrf: string; role: Role; erased: boolean }) {
  if (!can(props.role, ACCESS.admin)) return null;
  return (
    <section class="card" id="privacy" aria-labelledby="privacy-h">
      <h2 id="privacy-h">Privacy</h2>
      <p>
        <a class="button secondary" href={`/ui/customers/${props.customerId}/export`} download>
          Export personal data (JSON)
        </a>
      </p>
      {props.erased ? (
        <p class="notice" id="erased">
          This customer was erased.
        </p>
      ) : (
        <details>
          <summary>Erase this customer…</summary>
          <form
            method="post"
            action={`/ui/customers/${props.customerId}/erase`}
            class="stack"
            id="erase-form"
          >
            <Csrf token={props.csrf} />
            <p>
              Clears every personal field and free text, keeps purchases and events for reports without a
              name, and suppresses the address for good. This cannot be undone.
            </p>
            <div class="field">
              <label for="f-confirm">Type {ERASE_WORD} to confirm</label>
              <input id="f-confirm" name="confirm" autocomplete="off" required pattern={ERASE_WORD} />
            </div>
            <button type="submit" class="danger">
              Erase
            </button>
          </form>
        </details>
      )}
    </section>
  );
}

export function registerCustomerPrivacyPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/customers/:id{[0-9]+}/export', async (c) => {
    const id = Number(c.req.param('id'));
    const res = await apiResponse(app, c, 'GET', `/v1/customers/${id}/export`);
    if (!res.ok)
      throw new UiError(res.status, res.status === 403 ? 'Only an admin may export' : 'No such customer');
    return new Response(res.body, {
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'content-disposition': `attachment; filename="customer-${id}.json"`,
        'cache-control': 'no-store',
      },
    });
  });

  ui.post('/ui/customers/:id{[0-9]+}/erase', async (c) => {
    const id = Number(c.req.param('id'));
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    if (str(form, 'confirm') !== ERASE_WORD)
      throw new UiError(422, `Type ${ERASE_WORD} in the confirmation field to erase this customer`);
    const res = await api(app, c, 'DELETE', `/v1/customers/${id}`);
    if (!res.ok) throw new UiError(res.status, res.detail ?? `The API answered ${res.status}`);
    return c.redirect(`/ui/customers/${id}#privacy`, 303);
  });

  ui.post('/ui/customers/:id{[0-9]+}/consents', async (c) => {
    const id = Number(c.req.param('id'));
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const res = await api(app, c, 'POST', `/v1/customers/${id}/consents`, {
      purpose: str(form, 'purpose') ?? '',
      granted: form.granted === 'true',
      source: str(form, 'source') ?? '',
    });
    if (!res.ok)
      throw new UiError(
        res.status,
        res.errors.map((e) => `${e.path}: ${e.message}`).join('; ') ||
          res.detail ||
          `The API answered ${res.status}`,
      );
    return c.redirect(`/ui/customers/${id}#consents`, 303);
  });
}
