import type { Context, Hono } from 'hono';
import { audit } from '../../../http/audit.js';
import { ROLES, type Role } from '../../../http/roles.js';
import { accountLink, sendAccountMail } from '../../../users/account-mail.js';
import {
  createUser,
  findUser,
  issueUserToken,
  listUsers,
  openInvitations,
  setUserRole,
  setUserStatus,
} from '../../../users/store.js';
import type { UiEnv } from '../../env.js';
import { Csrf, type Errors, Field, FormErrors, fmtDate, page, str, Table, When } from '../../kit.js';
import { adminOnly } from './guard.js';

const ROLE_OPTIONS = ROLES.map((r) => ({ value: r, label: r }));
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function InviteForm(props: {
  csrf: string;
  values: Record<string, unknown>;
  errors?: Errors;
  detail?: string;
}) {
  const v = props.values;
  return (
    <form method="post" action="/ui/users" class="card stack" id="invite-form" novalidate>
      <h2>Invite someone</h2>
      <Csrf token={props.csrf} />
      <FormErrors errors={props.errors} fields={['email', 'name', 'role']} detail={props.detail} />
      <div class="row">
        <Field
          name="email"
          label="Email"
          type="email"
          value={v.email as string}
          errors={props.errors}
          required
        />
        <Field name="name" label="Name" value={v.name as string} errors={props.errors} />
        <Field
          name="role"
          label="Role"
          value={(v.role as string) ?? 'marketer'}
          options={ROLE_OPTIONS}
          errors={props.errors}
        />
      </div>
      <button type="submit">Send the invitation</button>
    </form>
  );
}

/** Mails a new invitation link to a user; returns the link (shown to the admin as well). */
async function invite(c: Context<UiEnv>, userId: number, email: string) {
  const { sql, config, clock } = c.var.deps;
  const token = await issueUserToken(sql, { userId, purpose: 'invite', now: clock() });
  const url = accountLink(config, 'invite', token);
  await sendAccountMail(c.var.deps, {
    to: email,
    subject: 'You are invited to Offerflow',
    intro: `${c.var.auth.name} invited you to Offerflow.`,
    action: 'Choose your password',
    url,
    outro: 'The link works for 72 hours, once.',
  });
  return url;
}

/** /ui/users: the people who sign in, their invitations, roles and access. */
export function registerUserPages(ui: Hono<UiEnv>): void {
  ui.use('/ui/users', adminOnly);
  ui.use('/ui/users/*', adminOnly);

  const render = async (
    c: Context<UiEnv>,
    state: { values?: Record<string, unknown>; errors?: Errors; notice?: string; status?: number } = {},
  ) => {
    const { sql } = c.var.deps;
    const [users, invitations] = await Promise.all([listUsers(sql), openInvitations(sql)]);
    return page(
      c,
      'Users',
      <>
        <h1>Users</h1>
        {state.notice && (
          <p class="notice" role="status" id="users-notice">
            {state.notice}
          </p>
        )}
        <InviteForm
          csrf={c.var.csrf}
          values={state.values ?? {}}
          {...(state.errors ? { errors: state.errors } : {})}
        />
        <section class="card" aria-labelledby="users-h">
          <h2 id="users-h">People</h2>
          <Table
            columns={[
              { label: 'Email', cell: (u) => u.email },
              { label: 'Name', cell: (u) => u.name ?? '—' },
              {
                label: 'Role',
                cell: (u) => (
                  <form method="post" action={`/ui/users/${u.id}/role`} class="inline">
                    <Csrf token={c.var.csrf} />
                    <label class="sr-only" for={`role-${u.id}`}>
                      Role of {u.email}
                    </label>
                    <select id={`role-${u.id}`} name="role" class="compact">
                      {ROLES.map((r) => (
                        <option value={r} selected={r === u.role}>
                          {r}
                        </option>
                      ))}
                    </select>
                    <button type="submit" class="secondary">
                      Change
                    </button>
                  </form>
                ),
              },
              {
                label: 'Status',
                cell: (u) => (
                  <span data-status={u.status}>
                    {u.status}
                    {u.status === 'invited' && invitations.has(u.id)
                      ? ` (until ${fmtDate(invitations.get(u.id)!.toISOString())})`
                      : ''}
                    {u.totp ? ' · 2FA' : ''}
                  </span>
                ),
              },
              { label: 'Last sign-in', cell: (u) => <When iso={u.last_sign_in_at?.toISOString()} /> },
              {
                label: 'Actions',
                cell: (u) => (
                  <div class="buttons">
                    {u.status === 'invited' && (
                      <form method="post" action={`/ui/users/${u.id}/invite`}>
                        <Csrf token={c.var.csrf} />
                        <button type="submit" class="secondary">
                          Send again
                        </button>
                      </form>
                    )}
                    {u.id !== c.var.auth.userId && (
                      <form
                        method="post"
                        action={`/ui/users/${u.id}/${u.status === 'disabled' ? 'enable' : 'disable'}`}
                      >
                        <Csrf token={c.var.csrf} />
                        <button type="submit" class={u.status === 'disabled' ? 'secondary' : 'danger'}>
                          {u.status === 'disabled' ? 'Enable' : 'Disable'}
                        </button>
                      </form>
                    )}
                  </div>
                ),
              },
            ]}
            rows={users}
          />
        </section>
      </>,
      { status: state.status ?? 200 },
    );
  };

  ui.get('/ui/users', (c) => render(c));

  ui.post('/ui/users', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const email = str(form, 'email');
    const role = str(form, 'role');
    const errors: Errors = [];
    if (!email || !EMAIL.test(email) || email.length > 254)
      errors.push({ path: 'email', message: 'an email address' });
    if (!role || !ROLES.includes(role as Role))
      errors.push({ path: 'role', message: `one of ${ROLES.join(', ')}` });
    if (errors.length) return render(c, { values: form, errors, status: 422 });
    const user = await createUser(c.var.deps.sql, {
      email: email!,
      name: str(form, 'name') ?? null,
      role: role as Role,
    });
    if (!user)
      return render(c, {
        values: form,
        errors: [{ path: 'email', message: 'someone has this address already' }],
        status: 409,
      });
    await audit(c, { action: 'user.invite', entity: 'user', entity_id: user.id, data: { role: user.role } });
    await invite(c, user.id, user.email);
    return render(c, { notice: `Invitation sent to ${user.email}.` });
  });

  ui.post('/ui/users/:id/:action{invite|disable|enable|role}', async (c) => {
    const id = Number(c.req.param('id'));
    const action = c.req.param('action');
    const { sql, clock } = c.var.deps;
    const user = Number.isSafeInteger(id) ? await findUser(sql, id) : undefined;
    if (!user) return render(c, { notice: 'No such user.', status: 404 });
    if (action === 'invite') {
      if (user.status !== 'invited')
        return render(c, { notice: `${user.email} has signed in already.`, status: 409 });
      await invite(c, user.id, user.email);
      await audit(c, { action: 'user.invite', entity: 'user', entity_id: user.id });
      return render(c, { notice: `Invitation sent again to ${user.email}.` });
    }
    if (action === 'role') {
      const form = (await c.req.parseBody()) as Record<string, unknown>;
      const role = str(form, 'role');
      if (!role || !ROLES.includes(role as Role)) return render(c, { notice: 'Choose a role.', status: 422 });
      if (user.id === c.var.auth.userId && role !== 'admin')
        return render(c, { notice: 'You cannot take admin from yourself.', status: 409 });
      await setUserRole(sql, user.id, role as Role);
      await audit(c, { action: 'user.role', entity: 'user', entity_id: user.id, data: { role } });
      return render(c, { notice: `${user.email} is now ${role}.` });
    }
    if (user.id === c.var.auth.userId)
      return render(c, { notice: 'You cannot disable yourself.', status: 409 });
    await setUserStatus(sql, { userId: user.id, disabled: action === 'disable', now: clock() });
    await audit(c, { action: `user.${action}`, entity: 'user', entity_id: user.id });
    return render(c, {
      notice:
        action === 'disable'
          ? `${user.email} is disabled and signed out.`
          : `${user.email} may sign in again.`,
    });
  });
}
