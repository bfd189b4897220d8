import type { Context, Hono } from 'hono';
import { audit } from '../../http/audit.js';
import { findUser, setTotpSecret } from '../../users/store.js';
import { checkTotp, newTotpSecret, totpUri } from '../../users/totp.js';
import { UiError } from '../api.js';
import type { UiEnv } from '../env.js';
import { Csrf, page, str } from '../kit.js';

// A person's own account: the optional TOTP second factor. Turning it on needs a code from the
// app that read the secret, so nobody locks themselves out with a secret they never saved.

export function registerAccountPage(ui: Hono<UiEnv>): void {
  const render = async (
    c: Context<UiEnv>,
    state: { error?: string; notice?: string; secret?: string } = {},
  ) => {
    const userId = c.var.auth.userId;
    if (userId === undefined)
      throw new UiError(404, 'Signed in with an API key: there is no account to manage');
    const user = await findUser(c.var.deps.sql, userId);
    if (!user) throw new UiError(404, 'No such user');
    const secret = state.secret ?? newTotpSecret();
    return page(
      c,
      'Your account',
      <>
        <h1>Your account</h1>
        {state.notice && (
          <p class="notice" role="status" id="account-notice">
            {state.notice}
          </p>
        )}
        <section class="card" aria-labelledby="totp-h">
          <h2 id="totp-h">Two-factor sign-in</h2>
          <p>
            {user.email} · {user.role}
          </p>
          {user.totp ? (
            <form method="post" action="/ui/account/totp/off">
              <Csrf token={c.var.csrf} />
              <p>On: signing in asks for a code from your authenticator app.</p>
              <button type="submit" class="danger">
                Turn off
              </button>
            </form>
          ) : (
            <form method="post" action="/ui/account/totp" class="stack" id="totp-form">
              <Csrf token={c.var.csrf} />
              <input type="hidden" name="secret" value={secret} />
              <p>
                Add this key to an authenticator app (or open the link on your phone), then type the code it
                shows.
              </p>
              <p>
                <code id="totp-secret">{secret}</code> ·{' '}
                <a href={totpUri(secret, user.email)}>otpauth link</a>
              </p>
              <div class={state.error ? 'field invalid' : 'field'}>
                <label for="f-totp">Code</label>
                <input id="f-totp" name="code" inputmode="numeric" autocomplete="one-time-code" required />
                {state.error && <small class="error">{state.error}</small>}
              </div>
              <button type="submit">Turn on</button>
            </form>
          )}
        </section>
      </>,
      { status: state.error ? 422 : 200 },
    );
  };

  ui.get('/ui/account', (c) => render(c));

  ui.post('/ui/account/totp', async (c) => {
    const userId = c.var.auth.userId;
    if (userId === undefined) throw new UiError(404, 'Signed in with an API key');
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const secret = str(form, 'secret') ?? '';
    if (!/^[A-Z2-7]{32}$/.test(secret)) throw new UiError(422, 'The form lost its key; reload it');
    if (!checkTotp(secret, str(form, 'code') ?? '', c.var.deps.clock()))
      return render(c, { secret, error: 'That is not the current code of this key' });
    await setTotpSecret(c.var.deps.sql, userId, secret);
    await audit(c, { action: 'user.totp_on', entity: 'user', entity_id: userId });
    return render(c, { notice: 'Two-factor sign-in is on.' });
  });

  ui.post('/ui/account/totp/off', async (c) => {
    const userId = c.var.auth.userId;
    if (userId === undefined) throw new UiError(404, 'Signed in with an API key');
    await setTotpSecret(c.var.deps.sql, userId, null);
    await audit(c, { action: 'user.totp_off', entity: 'user', entity_id: userId });
    return render(c, { notice: 'Two-factor sign-in is off.' });
  });
}
