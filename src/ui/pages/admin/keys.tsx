import type { Context, Hono } from 'hono';
import { createApiKey, listApiKeys, revokeApiKey } from '../../../http/api-keys.js';
import { audit } from '../../../http/audit.js';
import { ROLES, type Role } from '../../../http/roles.js';
import type { UiEnv } from '../../env.js';
import { Csrf, type Errors, Field, FormErrors, page, str, Table, When } from '../../kit.js';
import { adminOnly } from './guard.js';

/** /ui/keys: API keys for integrations; a new key is shown once, on the page that made it. */
export function registerKeyPages(ui: Hono<UiEnv>): void {
  ui.use('/ui/keys', adminOnly);
  ui.use('/ui/keys/*', adminOnly);

  const render = async (
    c: Context<UiEnv>,
    state: {
      values?: Record<string, unknown>;
      errors?: Errors;
      created?: string;
      notice?: string;
      status?: number;
    } = {},
  ) => {
    const keys = await listApiKeys(c.var.deps.sql);
    const v = state.values ?? {};
    return page(
      c,
      'API keys',
      <>
        <h1>API keys</h1>
        {state.created && (
          <div class="notice" role="status" id="new-key">
            <p>The new key, shown this once (only its hash is kept). Copy it now:</p>
            <pre class="quote" id="new-key-value" tabindex={0}>
              {state.created}
            </pre>
          </div>
        )}
        {state.notice && (
          <p class="notice" role="status" id="keys-notice">
            {state.notice}
          </p>
        )}
        <form method="post" action="/ui/keys" class="card stack" id="key-create-form" novalidate>
          <h2>New key</h2>
          <Csrf token={c.var.csrf} />
          <FormErrors errors={state.errors} fields={['name', 'role']} />
          <div class="row">
            <Field
              name="name"
              label="Name"
              value={v.name as string}
              errors={state.errors}
              hint="What uses it: “ERP sync”"
              required
            />
            <Field
              name="role"
              label="Role"
              value={(v.role as string) ?? 'integrator'}
              options={ROLES.map((r) => ({ value: r, label: r }))}
              errors={state.errors}
            />
          </div>
          <button type="submit">Create the key</button>
        </form>
        <section class="card" aria-labelledby="keys-h">
          <h2 id="keys-h">Keys</h2>
          <Table
            columns={[
              { label: 'Name', cell: (k) => k.name },
              { label: 'Starts with', cell: (k) => <code>{k.prefix}…</code> },
              { label: 'Role', cell: (k) => k.role },
              { label: 'Created', cell: (k) => <When iso={k.created_at.toISOString()} /> },
              { label: 'Last used', cell: (k) => <When iso={k.last_used_at?.toISOString()} /> },
              {
                label: 'State',
                cell: (k) =>
                  k.revoked_at ? (
                    <span data-state="revoked">
                      revoked <When iso={k.revoked_at.toISOString()} />
                    </span>
                  ) : (
                    <form method="post" action={`/ui/keys/${k.id}/revoke`} data-state="live">
                      <Csrf token={c.var.csrf} />
                      <button type="submit" class="danger" aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    </form>
                  ),
              },
            ]}
            rows={keys}
          />
        </section>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/keys', (c) => render(c));

  ui.post('/ui/keys', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const name = str(form, 'name');
    const role = str(form, 'role');
    const errors: Errors = [];
    if (!name || name.length > 100)
      errors.push({ path: 'name', message: 'a name of at most 100 characters' });
    if (!role || !ROLES.includes(role as Role))
      errors.push({ path: 'role', message: `one of ${ROLES.join(', ')}` });
    if (errors.length) return render(c, { values: form, errors, status: 422 });
    const { key, record } = await createApiKey(c.var.deps.sql, { name: name!, role: role as Role });
    await audit(c, { action: 'api_key.create', entity: 'api_key', entity_id: record.id, data: { role } });
    return render(c, { created: key });
  });

  ui.post('/ui/keys/:id/revoke', async (c) => {
    const id = Number(c.req.param('id'));
    const revoked = Number.isSafeInteger(id) && (await revokeApiKey(c.var.deps.sql, id));
    if (!revoked) return render(c, { notice: 'No live key with that id.', status: 404 });
    await audit(c, { action: 'api_key.revoke', entity: 'api_key', entity_id: id });
    return render(c, { notice: 'The key is revoked; its sessions ended.' });
  });
}
