import { createMiddleware } from 'hono/factory';

/**
 * The policy of the pages people open in a browser (/ui, /u). Scripts only from our origin (no
 * inline script, no eval: htmx and Chart.js need neither). Inline styles are allowed because the
 * template preview shows an email in a sandboxed `srcdoc` frame, which inherits this policy, and
 * email HTML is inline styles; for the same reason images and fonts may come from https.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https:",
  "img-src 'self' data: https:",
  "font-src 'self' data: https:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  // For browsers older than frame-ancestors.
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Unsubscribe links carry a token in the path: it must not leak to another site.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** Sets the browser-facing security headers on every response of the routes it wraps. */
export const securityHeaders = createMiddleware(async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(HEADERS)) c.res.headers.set(name, value);
});
