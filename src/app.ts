import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import { registerCampaignRoutes } from './campaigns/routes.js';
import { registerConversionRoutes } from './conversions/routes.js';
import { registerCurrencyRoutes } from './currencies/routes.js';
import { registerCustomerRoutes } from './customers/routes.js';
import { registerDemoImageRoutes } from './demo/images.js';
import type { AppDeps } from './deps.js';
import { registerEventRoutes } from './events/routes.js';
import { registerHoldoutRoutes } from './holdouts/routes.js';
import { requireApiKey } from './http/auth.js';
import { type AuthFailures, createAuthFailures } from './http/auth-failures.js';
import type { App, AppEnv } from './http/env.js';
import { httpMetrics } from './http/metrics.js';
import { nulByteErrors } from './http/nul-bytes.js';
import { onError } from './http/on-error.js';
import { AppError, invalid, zodToFieldErrors } from './http/problem.js';
import { securityHeaders } from './http/security-headers.js';
import { registerSystemRoutes } from './http/system-routes.js';
import { IMPORT_UPLOAD, registerImportRoutes } from './imports/routes.js';
import { registerEspWebhookRoutes } from './inbound/webhooks/routes.js';
import { registerJourneyRoutes } from './journeys/routes.js';
import { registerWebVersionRoutes } from './mail/web-version.js';
import { registerMessageRoutes } from './messages/routes.js';
import { registerOfferCodeRoutes } from './offers/code-routes.js';
import { registerRankerRoutes } from './offers/ranker-routes.js';
import { registerOfferRoutes } from './offers/routes.js';
import { registerPrivacyRoutes } from './privacy/routes.js';
import { registerProductCustomerRoutes } from './products/customer-routes.js';
import { registerRecommendationRoutes } from './products/recommend-routes.js';
import { registerProductRoutes } from './products/routes.js';
import { registerPurchaseRoutes } from './purchases/routes.js';
import { registerReportRoutes } from './reports/routes.js';
import { registerTriggerReportRoutes } from './reports/trigger-routes.js';
import { registerRuleRoutes } from './rules/routes.js';
import { registerSegmentRoutes } from './segments/routes.js';
import { registerSenderRoutes } from './senders/routes.js';
import { registerSocialRoutes } from './social/routes.js';
import { registerPartialRoutes } from './templates/partial-routes.js';
import { registerTemplateRoutes } from './templates/routes.js';
import { withTrackingFastPath } from './tracking/fast-path.js';
import { registerTrackingRoutes } from './tracking/routes.js';
import { registerTriggerRoutes } from './triggers/routes.js';
import { IMPORT_UPLOAD_PAGE } from './ui/pages/imports.js';
import { registerUiRoutes } from './ui/routes.js';
import { registerWebhookRoutes } from './webhooks/routes.js';

export interface AppOptions {
  /** Extra routes that only one runtime has (e.g. /docs reads files on Node). */
  extraRoutes?: (app: App) => void;
  /** Credential-failure counts, when several processes share them (`serve --processes`). */
  authFailures?: AuthFailures;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BODY_TYPES =
  /^(application\/(json|[\w.-]+\+json|x-ndjson)|multipart\/form-data|text\/csv|application\/x-www-form-urlencoded)\b/i;

/** Builds the whole HTTP app from its routers. No I/O happens here: deps are passed in. */
export function createApp(deps: AppDeps, options: AppOptions = {}): App {
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result, _c) => {
      const location = result.target === 'json' ? 'body' : result.target;
      if (!result.success) throw invalid(zodToFieldErrors(result.error, location));
      const nul = nulByteErrors(result.data, location);
      if (nul.length > 0) throw invalid(nul);
    },
  });
  const metrics = deps.metrics ? httpMetrics(deps.metrics) : undefined;
  const authFailures = options.authFailures ?? createAuthFailures(deps.config);

  app.use('*', requestId({ headerName: 'x-request-id' }));
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    c.set('authFailures', authFailures);
    // A child logger per request costs more than the whole tracking pixel: log lines carry req_id.
    const log = deps.logger;
    c.set('log', log);
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath;
    metrics?.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics?.duration.observe({ method: c.req.method, route }, seconds);
    log.info(
      {
        req_id: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
      },
      'request',
    );
  });
  const limitBody = bodyLimit({
    maxSize: deps.config.BODY_LIMIT_BYTES,
    onError: () => {
      throw new AppError(413, 'too-large', `The request body is over ${deps.config.BODY_LIMIT_BYTES} bytes`);
    },
  });
  // Only requests that carry a body pay for the limit (it wraps the request stream). A CSV
  // upload streams to the database under its own, larger limit (IMPORT_MAX_BYTES).
  const streamsItsBody = (method: string, path: string) =>
    [IMPORT_UPLOAD, IMPORT_UPLOAD_PAGE].some((route) => method === route.method && path === route.path);
  app.use('*', (c, next) =>
    BODY_METHODS.has(c.req.method) && !streamsItsBody(c.req.method, c.req.path) ? limitBody(c, next) : next(),
  );
  app.use('/v1/*', async (c, next) => {
    const type = c.req.header('content-type');
    const hasBody =
      ['POST', 'PUT', 'PATCH'].includes(c.req.method) &&
      (type || Number(c.req.header('content-length') ?? 0) > 0);
    if (hasBody && !(type && BODY_TYPES.test(type))) {
      throw new AppError(
        415,
        'unsupported-media-type',
        'Send the body as application/json (or NDJSON, CSV where noted)',
        [{ path: 'content-type', in: 'header', message: `unsupported: ${type ?? 'none'}` }],
      );
    }
    await next();
  });
  app.use('/v1/*', requireApiKey);
  app.use('/ui/*', securityHeaders);
  app.use('/u/*', securityHeaders);
  // The hosted web version of a mail: a page opened in a browser, with a token in its path.
  app.use('/w/*', securityHeaders);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key created with `offerflow keys create`',
  });

  registerSystemRoutes(app);
  registerCustomerRoutes(app);
  registerPurchaseRoutes(app);
  registerProductRoutes(app);
  registerProductCustomerRoutes(app);
  registerRecommendationRoutes(app);
  registerEventRoutes(app);
  registerWebhookRoutes(app);
  registerRuleRoutes(app);
  registerSegmentRoutes(app);
  registerOfferRoutes(app);
  registerRankerRoutes(app);
  registerOfferCodeRoutes(app);
  registerTemplateRoutes(app);
  registerPartialRoutes(app);
  registerCampaignRoutes(app);
  registerTrackingRoutes(app);
  registerConversionRoutes(app);
  registerEspWebhookRoutes(app);
  registerReportRoutes(app);
  registerHoldoutRoutes(app);
  registerCurrencyRoutes(app);
  registerTriggerReportRoutes(app);
  registerUiRoutes(app);
  registerImportRoutes(app);
  registerPrivacyRoutes(app);
  registerTriggerRoutes(app);
  registerJourneyRoutes(app);
  registerSocialRoutes(app);
  registerMessageRoutes(app);
  registerSenderRoutes(app);
  registerWebVersionRoutes(app);
  registerDemoImageRoutes(app);
  options.extraRoutes?.(app);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Offerflow API',
      version: '0.1.0',
      description: 'Customers, purchases, rules, segments, offers, templates and campaigns.',
    },
    servers: [{ url: deps.config.PUBLIC_URL }],
  });

  app.notFound((c) => {
    throw new AppError(404, 'not-found', `No route for ${c.req.method} ${c.req.path}`);
  });
  app.onError(onError);
  // Open pixels and clicks skip the app-wide middleware above (see tracking/fast-path.ts).
  return withTrackingFastPath(app, deps);
}
