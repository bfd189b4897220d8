import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { authenticateApiKey } from '../http/api-keys.js';
import type { App } from '../http/env.js';
import { AppError } from '../http/problem.js';
import { UiError } from './api.js';
import type { UiEnv } from './env.js';
import { Csrf, Shell } from './kit.js';
import { registerCampaignPages } from './pages/campaigns.js';
import { registerCustomerPages } from './pages/customers.js';
import { registerDashboard } from './pages/dashboard.js';
import { IMPORT_UPLOAD_PAGE, registerImportPages } from './pages/imports.js';
import { registerOfferPages } from './pages/offers.js';
import { registerSegmentPages } from './pages/segments.js';
import { registerTemplatePages } from './pages/templates.js';
import { registerTriggerPages } from './pages/triggers.js';
import {
  checkCsrf,
  csrfToken,
  newSession,
  openSession,
  SESSION_COOKIE,
  SESSION_HOURS,
  sealSession,
} from './session.js';
import { serveAsset } from './static.js';

const LOGIN_COOKIE = 'offerflow_login';
const PUBLIC = /^\/ui\/(login|static\/|vendor\/|manifest\.webmanifest$|sw\.js$)/;

const isHttps = (c: Context) =>
  new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

const cookieOptions = (c: Context, maxAge: number) =>
  ({ httpOnly: true, secure: isHttps(c), sameSite: 'Strict', path: '/ui', maxAge }) as const;

/** A path inside the UI to go back to after sign-in (never another origin). */
const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/ui(\/[\w\-./?=&%]*)?$/.test(next) && !next.startsWith('//') ? next : '/ui';

function LoginPage(props: { token: string; next: string; error?: string }) {
  return (
    <Shell title="Sign in">
      <form method="post" action="/ui/login" class="card narrow">
        <h1>Sign in</h1>
        <input type="hidden" name="_login" value={props.token} />
        <input type="hidden" name="next" value={props.next} />
        <div class={props.error ? 'field invalid' : 'field'}>
          <label for="f-key">API key</label>
          <input
            id="f-key"
            name="key"
            type="password"
            autocomplete="current-password"
            required
            aria-invalid={props.error ? 'true' : undefined}
          />
          {props.error && <small class="error">{props.error}</small>}
          <small class="hint">
            A key from <code>offerflow keys create</code>; your role is the key's.
          </small>
        </div>
        <button type="submit">Sign in</button>
      </form>
    </Shell>
  );
}

/** The web UI at /ui: server-rendered pages that call the app's own API with the user's key. */
export function registerUiRoutes(app: App): void {
  const ui = new Hono<UiEnv>();

  ui.get('/ui/static/:file', (c) => serveAsset(c, `static/${c.req.param('file')}`));
  ui.get('/ui/vendor/:file', (c) => serveAsset(c, `vendor/${c.req.param('file')}`));
  ui.get('/ui/sw.js', (c) => serveAsset(c, 'static/sw.js'));
  ui.get('/ui/manifest.webmanifest', (c) => serveAsset(c, 'static/manifest.webmanifest'));

  ui.get('/ui/login', (c) => {
    const token = crypto.randomUUID();
    setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, 600));
    return c.html(<LoginPage token={token} next={safeNext(c.req.query('next'))} />);
  });

  ui.post('/ui/login', async (c) => {
    const form = await c.req.parseBody();
    // Login CSRF: the form's token must match the cookie set with it (double submit).
    const expected = getCookie(c, LOGIN_COOKIE);
    if (!expected || form._login !== expected) throw new UiError(403, 'The sign-in form expired; reload it');
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    const record = key ? await authenticateApiKey(c.var.deps.sql, key) : null;
    if (!record) {
      const token = crypto.randomUUID();
      setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, 600));
      return c.html(
        <LoginPage token={token} next={safeNext(form.next)} error="This key is unknown or revoked" />,
        401,
      );
    }
    const session = newSession(key, Date.now());
    setCookie(
      c,
      SESSION_COOKIE,
      sealSession(c.var.deps.config.OFFERFLOW_SECRET, session),
      cookieOptions(c, SESSION_HOURS * 3600),
    );
    deleteCookie(c, LOGIN_COOKIE, { path: '/ui' });
    return c.redirect(safeNext(form.next), 303);
  });

  ui.use('/ui/*', async (c, next) => {
    if (PUBLIC.test(c.req.path)) return next();
    const secret = c.var.deps.config.OFFERFLOW_SECRET;
    const session = openSession(secret, getCookie(c, SESSION_COOKIE), Date.now());
    const record = session ? await authenticateApiKey(c.var.deps.sql, session.key) : null;
    if (!session || !record) {
      deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
      if (c.req.method !== 'GET') throw new UiError(401, 'Your session ended; sign in again');
      const target = `/ui/login?next=${encodeURIComponent(c.req.path)}`;
      if (c.req.header('hx-request')) {
        c.header('HX-Redirect', target);
        return c.body(null, 401);
      }
      return c.redirect(target, 303);
    }
    c.set('session', session);
    c.set('csrf', csrfToken(secret, session));
    c.set('auth', { keyId: record.id, name: record.name, role: record.role });
    // The import form streams its upload and checks the token itself, before reading the file.
    const streamsItsBody =
      c.req.method === IMPORT_UPLOAD_PAGE.method &&
      c.req.path === IMPORT_UPLOAD_PAGE.path &&
      (c.req.header('content-type') ?? '').startsWith('multipart/form-data');
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !streamsItsBody) {
      let token = c.req.header('x-csrf-token');
      if (!token) {
        const type = c.req.header('content-type') ?? '';
        if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
          const form = await c.req.parseBody();
          token = typeof form._csrf === 'string' ? form._csrf : undefined;
        }
      }
      if (!checkCsrf(secret, session, token))
        throw new UiError(403, 'The form’s CSRF token is missing or wrong');
    }
    c.header('cache-control', 'no-store');
    await next();
  });

  ui.post('/ui/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
    return c.redirect('/ui/login', 303);
  });

  registerDashboard(ui, app);
  registerCustomerPages(ui, app);
  registerSegmentPages(ui, app);
  registerOfferPages(ui, app);
  registerCampaignPages(ui, app);
  registerTemplatePages(ui, app);
  registerImportPages(ui, app);
  registerTriggerPages(ui, app);

  ui.onError((error, c) => {
    const status = error instanceof UiError || error instanceof AppError ? error.status : 500;
    if (status >= 500) c.var.log?.error({ err: error }, 'ui error');
    const message = status >= 500 ? 'Something went wrong; it has been logged.' : error.message;
    if (c.req.header('hx-request')) return c.html(<p class="alert">{message}</p>, status as 400);
    const csrf = (c as unknown as Context<UiEnv>).var.csrf;
    return c.html(
      <Shell title={`Error ${status}`} role={c.var.auth?.role} user={c.var.auth?.name} csrf={csrf}>
        <div class="card">
          <h1>{status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Error'}</h1>
          <p class="alert">{message}</p>
          <p>
            <a href="/ui">Back to the dashboard</a>
          </p>
        </div>
        {csrf ? <Csrf token={csrf} /> : null}
      </Shell>,
      status as 400,
    );
  });

  app.route('/', ui as unknown as App);
}
