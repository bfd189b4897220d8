import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import type { App } from '../http/env.js';
import { AppError } from '../http/problem.js';
import { endSession, findLiveSession } from '../http/sessions.js';
import { UiError } from './api.js';
import type { UiEnv } from './env.js';
import { Csrf, Shell } from './kit.js';
import { registerAccountPage } from './pages/account.js';
import { registerAttributePages } from './pages/admin/attributes.js';
import { registerAuditPage } from './pages/admin/audit.js';
import { registerHoldoutPages } from './pages/admin/holdouts.js';
import { registerKeyPages } from './pages/admin/keys.js';
import { registerSenderPages } from './pages/admin/senders.js';
import { registerUserPages } from './pages/admin/users.js';
import { registerWebhookPages } from './pages/admin/webhooks.js';
import { registerCampaignPages } from './pages/campaigns.js';
import { registerCustomerPages } from './pages/customers.js';
import { registerDashboard } from './pages/dashboard.js';
import { registerEventPages } from './pages/events.js';
import { IMPORT_UPLOAD_PAGE, registerImportPages } from './pages/imports.js';
import { registerJourneyPages } from './pages/journeys.js';
import { registerOfferPages } from './pages/offers.js';
import { registerPartialPages } from './pages/partials.js';
import { registerProductPages } from './pages/products.js';
import { registerReportPages } from './pages/reports.js';
import { registerRuleBuilderPages } from './pages/rule-builder.js';
import { registerSegmentPages } from './pages/segments.js';
import { registerSignInPages } from './pages/sign-in.js';
import { registerTemplatePages } from './pages/templates.js';
import { registerTriggerPages } from './pages/triggers.js';
import { checkCsrf, csrfToken, SESSION_COOKIE } from './session.js';
import { serveAsset } from './static.js';

const PUBLIC =
  /^\/ui\/(login$|welcome\/|reset(\/|$)|oidc\/|offline$|static\/|vendor\/|manifest\.webmanifest$|sw\.js$)/;

/**
 * Sent with sign-out: the browser drops this origin's HTTP and service-worker caches and its
 * storage (the offline note queue in localStorage, the service worker itself). Browsers honour
 * it on HTTPS and on localhost; app.js clears the same things itself for the others.
 */
const CLEAR_SITE_DATA = '"cache", "storage"';

/** The web UI at /ui: server-rendered pages that call the app's own API with the user's key. */
export function registerUiRoutes(app: App): void {
  const ui = new Hono<UiEnv>();

  ui.get('/ui/static/:file', (c) => serveAsset(c, `static/${c.req.param('file')}`));
  ui.get('/ui/vendor/:file', (c) => serveAsset(c, `vendor/${c.req.param('file')}`));
  ui.get('/ui/sw.js', (c) => serveAsset(c, 'static/sw.js'));
  ui.get('/ui/manifest.webmanifest', (c) => serveAsset(c, 'static/manifest.webmanifest'));

  registerSignInPages(ui);

  // What a page may show offline in place of one the service worker may not keep.
  ui.get('/ui/offline', (c) => {
    c.header('cache-control', 'no-cache');
    return c.html(
      <Shell title="Offline">
        <div class="card" id="offline-page">
          <h1>Not available offline</h1>
          <p>
            This page is not available offline. Customer cards and search results are never kept on this
            device; they show again when the connection returns.
          </p>
          <p>
            <a href="/ui">Try again</a>
          </p>
        </div>
      </Shell>,
    );
  });

  ui.use('/ui/*', async (c, next) => {
    if (PUBLIC.test(c.req.path)) return next();
    const { sql, config, clock } = c.var.deps;
    const secret = config.OFFERFLOW_SECRET;
    const live = await findLiveSession(sql, {
      token: getCookie(c, SESSION_COOKIE),
      now: clock(),
      idleMinutes: config.SESSION_IDLE_MINUTES,
    });
    if (!live) {
      deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
      if (c.req.path === '/ui/logout' && c.req.method === 'POST') {
        // Signed out already (or the session had ended): still clear what the browser keeps.
        c.header('clear-site-data', CLEAR_SITE_DATA);
        return c.redirect('/ui/login', 303);
      }
      if (c.req.method !== 'GET') throw new UiError(401, 'Your session ended; sign in again');
      const target = `/ui/login?next=${encodeURIComponent(c.req.path)}`;
      if (c.req.header('hx-request')) {
        c.header('HX-Redirect', target);
        return c.body(null, 401);
      }
      return c.redirect(target, 303);
    }
    const session = { id: live.id, nonce: live.csrfSecret };
    c.set('session', session);
    c.set('csrf', csrfToken(secret, session));
    c.set('auth', {
      keyId: live.apiKeyId,
      ...(live.userId !== null ? { userId: live.userId } : {}),
      name: live.name,
      role: live.role,
    });
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

  ui.post('/ui/logout', async (c) => {
    await endSession(c.var.deps.sql, getCookie(c, SESSION_COOKIE), c.var.deps.clock());
    deleteCookie(c, SESSION_COOKIE, { path: '/ui' });
    c.header('clear-site-data', CLEAR_SITE_DATA);
    return c.redirect('/ui/login', 303);
  });

  registerDashboard(ui, app);
  registerCustomerPages(ui, app);
  registerRuleBuilderPages(ui, app);
  registerSegmentPages(ui, app);
  registerOfferPages(ui, app);
  registerProductPages(ui, app);
  registerCampaignPages(ui, app);
  registerTemplatePages(ui, app);
  registerPartialPages(ui, app);
  registerImportPages(ui, app);
  registerTriggerPages(ui, app);
  registerJourneyPages(ui, app);
  registerReportPages(ui, app);
  registerAccountPage(ui);
  registerUserPages(ui);
  registerKeyPages(ui);
  registerAttributePages(ui, app);
  registerAuditPage(ui, app);
  registerSenderPages(ui, app);
  registerHoldoutPages(ui, app);
  registerEventPages(ui, app);
  registerWebhookPages(ui, app);

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
