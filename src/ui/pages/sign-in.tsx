import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { authenticateApiKey } from '../../http/api-keys.js';
import { failureClient } from '../../http/auth.js';
import { AppError } from '../../http/problem.js';
import { createSession } from '../../http/sessions.js';
import { accountLink, sendAccountMail } from '../../users/account-mail.js';
import { finishOidc, type OidcAttempt, oidcEnabled, startOidc } from '../../users/oidc.js';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from '../../users/password.js';
import {
  activateInvitedUser,
  findUserForSignIn,
  issueUserToken,
  noteSignIn,
  peekUserToken,
  setPasswordWithToken,
} from '../../users/store.js';
import { checkTotp } from '../../users/totp.js';
import { UiError } from '../api.js';
import type { UiEnv } from '../env.js';
import { Shell } from '../kit.js';
import { SESSION_COOKIE } from '../session.js';

// Signing in: people with an email and password (and a TOTP code when they turned it on), and
// an API key for automation. Every form here is public, so each carries a login token matched
// against a cookie set with it (login CSRF), and every failure counts against the client.

const LOGIN_COOKIE = 'offerflow_login';
const OIDC_COOKIE = 'offerflow_oidc';

const isHttps = (c: Context) =>
  new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

export const uiCookieOptions = (c: Context, maxAge: number) =>
  ({ httpOnly: true, secure: isHttps(c), sameSite: 'Strict', path: '/ui', maxAge }) as const;

/** A path inside the UI to go back to after sign-in (never another origin). */
export const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/ui(\/[\w\-./?=&%]*)?$/.test(next) && !next.startsWith('//') ? next : '/ui';

/** A fresh login token, set as its cookie, for a public form. */
function loginToken(c: Context): string {
  const token = crypto.randomUUID();
  setCookie(c, LOGIN_COOKIE, token, uiCookieOptions(c, 600));
  return token;
}

function checkLoginToken(c: Context, form: Record<string, unknown>) {
  const expected = getCookie(c, LOGIN_COOKIE);
  if (!expected || form._login !== expected) throw new UiError(403, 'The form expired; reload it');
}

const text = (form: Record<string, unknown>, name: string) =>
  typeof form[name] === 'string' ? (form[name] as string) : '';

interface LoginProps {
  token: string;
  next: string;
  error?: string | undefined;
  keyError?: string | undefined;
  email?: string | undefined;
  notice?: string | undefined;
  /** Whether the identity provider's button shows (OIDC configured). */
  oidc?: boolean;
}

function LoginPage(props: LoginProps) {
  return (
    <Shell title="Sign in">
      <div class="card narrow">
        <h1>Sign in</h1>
        {props.notice && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        {props.oidc && (
          <p>
            <a
              class="button"
              href={`/ui/oidc/start?next=${encodeURIComponent(props.next)}`}
              id="oidc-sign-in"
            >
              Sign in with your identity provider
            </a>
          </p>
        )}
        <form method="post" action="/ui/login" id="password-form" class="stack">
          <input type="hidden" name="_login" value={props.token} />
          <input type="hidden" name="next" value={props.next} />
          {props.error && (
            <p class="alert" role="alert" id="sign-in-error">
              {props.error}
            </p>
          )}
          <div class="field">
            <label for="f-email">Email</label>
            <input
              id="f-email"
              name="email"
              type="email"
              autocomplete="username"
              value={props.email ?? ''}
              required
            />
          </div>
          <div class="field">
            <label for="f-password">Password</label>
            <input id="f-password" name="password" type="password" autocomplete="current-password" required />
          </div>
          <div class="field">
            <label for="f-code">Authentication code</label>
            <input
              id="f-code"
              name="code"
              inputmode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9 ]*"
            />
            <small class="hint">Only if you turned on a second factor.</small>
          </div>
          <div class="buttons">
            <button type="submit">Sign in</button>
            <a href="/ui/reset">Forgot your password?</a>
          </div>
        </form>
        <details class="key-sign-in" open={props.keyError !== undefined}>
          <summary>Sign in with an API key</summary>
          <form method="post" action="/ui/login" id="key-form" class="stack">
            <input type="hidden" name="_login" value={props.token} />
            <input type="hidden" name="next" value={props.next} />
            <div class={props.keyError ? 'field invalid' : 'field'}>
              <label for="f-key">API key</label>
              <input
                id="f-key"
                name="key"
                type="password"
                autocomplete="off"
                required
                aria-invalid={props.keyError ? 'true' : undefined}
                aria-describedby={props.keyError ? 'f-key-err' : undefined}
              />
              {props.keyError && (
                <small class="error" id="f-key-err">
                  {props.keyError}
                </small>
              )}
              <small class="hint">
                For automation: a key from <code>offerflow keys create</code>; your role is the key's.
              </small>
            </div>
            <button type="submit">Sign in with the key</button>
          </form>
        </details>
      </div>
    </Shell>
  );
}

function SetPasswordPage(props: {
  token: string;
  action: string;
  title: string;
  email: string;
  error?: string | undefined;
}) {
  return (
    <Shell title={props.title}>
      <form method="post" action={props.action} class="card narrow stack" id="set-password-form">
        <h1>{props.title}</h1>
        <input type="hidden" name="_login" value={props.token} />
        <p>
          For <strong>{props.email}</strong>.
        </p>
        <input type="hidden" name="email" autocomplete="username" value={props.email} />
        <div class={props.error ? 'field invalid' : 'field'}>
          <label for="f-password">New password</label>
          <input
            id="f-password"
            name="password"
            type="password"
            autocomplete="new-password"
            minlength={12}
            required
            aria-invalid={props.error ? 'true' : undefined}
            aria-describedby="f-password-hint"
          />
          <small class="hint" id="f-password-hint">
            At least 12 characters; a few unrelated words make a good one.
          </small>
          {props.error && <small class="error">{props.error}</small>}
        </div>
        <button type="submit">Set the password and sign in</button>
      </form>
    </Shell>
  );
}

function Message(props: { title: string; children: string }) {
  return (
    <Shell title={props.title}>
      <div class="card narrow">
        <h1>{props.title}</h1>
        <p>{props.children}</p>
        <p>
          <a href="/ui/login">Go to the sign-in page</a>
        </p>
      </div>
    </Shell>
  );
}

/** Opens a session and sets its cookie. */
async function startSession(
  c: Context<UiEnv>,
  who: { apiKeyId: number } | { userId: number },
): Promise<void> {
  const { sql, config, clock } = c.var.deps;
  const session = await createSession(sql, { ...who, now: clock(), maxHours: config.SESSION_MAX_HOURS });
  setCookie(c, SESSION_COOKIE, session.token, uiCookieOptions(c, config.SESSION_MAX_HOURS * 3600));
  deleteCookie(c, LOGIN_COOKIE, { path: '/ui' });
}

/** Throws 429 (as the page again) when the client failed too often; counts the failures. */
function limiter(c: Context<UiEnv>) {
  const client = failureClient(c);
  const now = () => c.var.deps.clock().getTime();
  return {
    blocked(): string | undefined {
      try {
        c.var.authFailures.check(client, now());
        return undefined;
      } catch (error) {
        if (!(error instanceof AppError) || error.status !== 429) throw error;
        c.header('retry-after', String(error.retryAfterSeconds));
        return error.message;
      }
    },
    fail: () => c.var.authFailures.fail(client, now()),
  };
}

/** The public sign-in, welcome (invitation) and password reset pages. */
export function registerSignInPages(ui: Hono<UiEnv>): void {
  ui.get('/ui/login', (c) =>
    c.html(
      <LoginPage
        token={loginToken(c)}
        next={safeNext(c.req.query('next'))}
        oidc={oidcEnabled(c.var.deps.config)}
        {...(c.req.query('error') === 'oidc' ? { error: 'The identity provider did not sign you in' } : {})}
      />,
    ),
  );

  // OpenID Connect: the attempt's PKCE verifier, state and nonce wait in a cookie of the
  // callback's path. SameSite=Lax: the provider's redirect back is a cross-site navigation.
  ui.get('/ui/oidc/start', async (c) => {
    const { config } = c.var.deps;
    if (!oidcEnabled(config)) throw new UiError(404, 'Sign-in with an identity provider is not set up');
    const { url, attempt } = await startOidc(config);
    const value = Buffer.from(JSON.stringify({ ...attempt, next: safeNext(c.req.query('next')) })).toString(
      'base64url',
    );
    setCookie(c, OIDC_COOKIE, value, { ...uiCookieOptions(c, 600), sameSite: 'Lax', path: '/ui/oidc' });
    return c.redirect(url, 302);
  });

  ui.get('/ui/oidc/callback', async (c) => {
    const { sql, config, clock } = c.var.deps;
    if (!oidcEnabled(config)) throw new UiError(404, 'Sign-in with an identity provider is not set up');
    const raw = getCookie(c, OIDC_COOKIE);
    deleteCookie(c, OIDC_COOKIE, { path: '/ui/oidc' });
    let attempt: (OidcAttempt & { next: string }) | undefined;
    try {
      attempt = raw ? JSON.parse(Buffer.from(raw, 'base64url').toString()) : undefined;
    } catch {
      attempt = undefined;
    }
    if (!attempt?.state) throw new UiError(400, 'The sign-in attempt expired; start again');
    // The URL the provider redirected to, as the provider saw it (PUBLIC_URL, not the proxy's).
    const callback = new URL(
      `${config.PUBLIC_URL.replace(/\/$/, '')}${c.req.path}${new URL(c.req.url).search}`,
    );
    const limit = limiter(c);
    const blocked = limit.blocked();
    if (blocked) throw new UiError(429, blocked);
    const result = await finishOidc(config, callback, attempt);
    if ('error' in result) {
      limit.fail();
      throw new UiError(401, result.error);
    }
    const user = await findUserForSignIn(sql, result.email);
    if (!user || user.status === 'disabled') {
      limit.fail();
      throw new UiError(403, `${result.email} has no Offerflow account; ask an admin to invite you`);
    }
    await activateInvitedUser(sql, user.id);
    await noteSignIn(sql, user.id, clock());
    await startSession(c, { userId: user.id });
    // A page, not a redirect: the strict session cookie is sent only on a navigation that starts
    // here, not on one that continues the provider's cross-site redirect.
    return c.html(
      <Shell title="Signed in">
        <div class="card narrow">
          <meta http-equiv="refresh" content={`0;url=${safeNext(attempt.next)}`} />
          <h1>Signed in</h1>
          <p>
            <a href={safeNext(attempt.next)} id="continue">
              Continue
            </a>
          </p>
        </div>
      </Shell>,
    );
  });

  ui.post('/ui/login', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    checkLoginToken(c, form);
    const { sql, clock } = c.var.deps;
    const next = safeNext(form.next);
    const limit = limiter(c);
    const byKey = typeof form.key === 'string';
    const email = text(form, 'email').trim();
    const again = (error: string, status: 401 | 429) =>
      c.html(
        <LoginPage
          token={loginToken(c)}
          next={next}
          email={email}
          {...(byKey ? { keyError: error } : { error })}
        />,
        status,
      );
    const blocked = limit.blocked();
    if (blocked) return again(blocked, 429);

    if (byKey) {
      const record = await authenticateApiKey(sql, text(form, 'key').trim());
      if (!record) {
        limit.fail();
        return again('This key is unknown or revoked', 401);
      }
      await startSession(c, { apiKeyId: record.id });
      return c.redirect(next, 303);
    }

    const password = text(form, 'password');
    const user = email ? await findUserForSignIn(sql, email) : undefined;
    // The same work whether or not the email is known, so timing does not tell which.
    const passwordOk = await verifyPassword(password, user?.password_hash ?? (await dummyHash()));
    const ok = user && user.status === 'active' && passwordOk && user.password_hash !== null;
    if (!ok) {
      limit.fail();
      return again('The email or password is wrong', 401);
    }
    if (user.totp_secret && !checkTotp(user.totp_secret, text(form, 'code'), clock())) {
      limit.fail();
      return again('Type the current code of your authenticator app', 401);
    }
    await noteSignIn(sql, user.id, clock());
    await startSession(c, { userId: user.id });
    return c.redirect(next, 303);
  });

  // An invitation's and a reset's link: set a password, then signed in.
  for (const kind of ['welcome', 'reset'] as const) {
    const title = kind === 'welcome' ? 'Welcome to Offerflow' : 'Choose a new password';
    ui.get(`/ui/${kind}/:token`, async (c) => {
      const found = await peekUserToken(c.var.deps.sql, c.req.param('token'), c.var.deps.clock());
      if (!found || (found.purpose === 'invite') !== (kind === 'welcome'))
        return c.html(
          <Message title="This link no longer works">
            It was used already or it expired. Ask an admin for a new invitation, or reset your password
            again.
          </Message>,
          410,
        );
      return c.html(
        <SetPasswordPage token={loginToken(c)} action={c.req.path} title={title} email={found.user.email} />,
      );
    });

    ui.post(`/ui/${kind}/:token`, async (c) => {
      const form = (await c.req.parseBody()) as Record<string, unknown>;
      checkLoginToken(c, form);
      const { sql, clock } = c.var.deps;
      const found = await peekUserToken(sql, c.req.param('token'), clock());
      if (!found || (found.purpose === 'invite') !== (kind === 'welcome'))
        return c.html(
          <Message title="This link no longer works">It was used already or it expired.</Message>,
          410,
        );
      const password = text(form, 'password');
      const problem = passwordProblem(password);
      if (problem)
        return c.html(
          <SetPasswordPage
            token={loginToken(c)}
            action={c.req.path}
            title={title}
            email={found.user.email}
            error={`The password needs ${problem}`}
          />,
          422,
        );
      const set = await setPasswordWithToken(sql, {
        tokenId: found.tokenId,
        userId: found.user.id,
        passwordHash: await hashPassword(password),
        now: clock(),
      });
      if (!set) return c.html(<Message title="This link no longer works">It was used already.</Message>, 410);
      await noteSignIn(sql, found.user.id, clock());
      await startSession(c, { userId: found.user.id });
      return c.redirect('/ui', 303);
    });
  }

  ui.get('/ui/reset', (c) =>
    c.html(
      <Shell title="Reset your password">
        <form method="post" action="/ui/reset" class="card narrow stack" id="reset-form">
          <h1>Reset your password</h1>
          <input type="hidden" name="_login" value={loginToken(c)} />
          <div class="field">
            <label for="f-email">Email</label>
            <input id="f-email" name="email" type="email" autocomplete="username" required />
          </div>
          <button type="submit">Mail me a link</button>
        </form>
      </Shell>,
    ),
  );

  ui.post('/ui/reset', async (c) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    checkLoginToken(c, form);
    const { sql, config, clock } = c.var.deps;
    const limit = limiter(c);
    const blocked = limit.blocked();
    if (blocked) return c.html(<Message title="Too many attempts">{blocked}</Message>, 429);
    // Each request counts, so the form cannot be used to mail-bomb anyone.
    limit.fail();
    const user = await findUserForSignIn(sql, text(form, 'email').trim());
    if (user && user.status === 'active') {
      const token = await issueUserToken(sql, { userId: user.id, purpose: 'reset', now: clock() });
      await sendAccountMail(c.var.deps, {
        to: user.email,
        subject: 'Reset your Offerflow password',
        intro: 'Someone (we hope you) asked to reset your Offerflow password.',
        action: 'Choose a new password',
        url: accountLink(config, 'reset', token),
        outro:
          'The link works for one hour, once. If you did not ask, ignore this mail: your password stays.',
      });
    }
    // The same answer whether or not the address has an account.
    return c.html(
      <LoginPage
        token={loginToken(c)}
        next="/ui"
        notice="If that address has an account, a link to choose a new password is on its way."
      />,
    );
  });
}
