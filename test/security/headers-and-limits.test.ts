import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { startMetricsListener } from '../../src/http/metrics-listener.js';
import { createHarness, fromPeer, type Harness, json } from '../helpers/harness.js';
import { cookieOf } from '../helpers/ui-login.js';
import { signInToUi } from '../helpers/ui-session.js';

// Browser-facing headers on /ui and /u; failed API keys and sign-ins limited per client (429
// with Retry-After); /metrics behind a token or on its own address; and the consent IP taken
// from X-Forwarded-For only when the connection comes from a TRUSTED_PROXIES proxy.

let h: Harness;
let customerId: number;

beforeAll(async () => {
  h = await createHarness();
  customerId = (await json(await h.post('/v1/customers', { external_id: 'hdr-1', email: 'h@example.test' })))
    .id;
});
afterAll(async () => h.close());

const appWith = (config: Partial<Config>) =>
  createApp({ ...h.deps, config: { ...h.deps.config, ...config } });

describe('security headers', () => {
  it('every /ui and /u response carries CSP with frame-ancestors none, nosniff and a referrer policy', async () => {
    const { session } = await signInToUi(h);
    const responses = [
      await h.app.request('/ui/login'),
      await h.app.request('/ui', { headers: { cookie: session } }),
      await h.app.request('/ui/customers', { headers: { cookie: session } }),
      await h.app.request('/ui/customers/999999', { headers: { cookie: session } }), // an error page
      await h.app.request('/ui/static/app.js'),
      await h.app.request('/ui/offline'),
      await h.app.request('/u/not-a-token'),
      await h.app.request('/u/not-a-token/preferences'),
    ];
    for (const res of responses) {
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, res.url).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-(inline|eval)/);
      expect(csp).toContain("object-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });
});

describe('failed credentials are limited per client', () => {
  it('wrong API keys: 401 up to the limit, then 429 with Retry-After, even for a right key; other clients are unaffected', async () => {
    const limit = h.deps.config.AUTH_FAILURE_LIMIT;
    const attacker = '203.0.113.66';
    for (let i = 0; i < limit; i++) {
      const res = await h.get('/v1/customers', { key: `ofk_guess${i}`, peer: attacker });
      expect(res.status).toBe(401);
    }
    const blocked = await h.get('/v1/customers', { key: 'ofk_guess-more', peer: attacker });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(blocked.headers.get('retry-after'))).toBeLessThanOrEqual(
      h.deps.config.AUTH_FAILURE_WINDOW_SECONDS,
    );
    expect((await json(blocked)).status).toBe(429);
    // A right key from the locked-out client is not even checked.
    expect((await h.get('/v1/customers', { peer: attacker })).status).toBe(429);
    expect((await h.get('/v1/customers', { peer: '198.51.100.7' })).status).toBe(200);
  });

  it('failed sign-ins count with failed keys: the sign-in form answers 429 with Retry-After', async () => {
    const client = '203.0.113.77';
    const attempt = async (key: string) => {
      const form = await h.app.request('/ui/login', {}, fromPeer(client));
      const login = cookieOf(form, 'offerflow_login')!;
      return h.app.request(
        '/ui/login',
        {
          method: 'POST',
          redirect: 'manual',
          headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _login: login.split('=')[1]!, key, next: '/ui' }),
        },
        fromPeer(client),
      );
    };
    const limit = h.deps.config.AUTH_FAILURE_LIMIT;
    for (let i = 0; i < limit - 2; i++) expect((await attempt(`ofk_wrong${i}`)).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      expect((await h.get('/v1/customers', { key: `ofk_api${i}`, peer: client })).status).toBe(401);
    }
    const blocked = await attempt(await h.keyFor('admin'));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(cookieOf(blocked, 'offerflow_session')).toBeUndefined();
  });
});

describe('/metrics can be restricted', () => {
  it('with METRICS_TOKEN it needs the token', async () => {
    const app = appWith({ METRICS_TOKEN: 'metrics-token-0123456789' });
    expect((await app.request('/metrics')).status).toBe(401);
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await app.request('/metrics', {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('offerflow_http_requests_total');
  });

  it('with METRICS_LISTEN it is served only on that address', async () => {
    const app = appWith({ METRICS_LISTEN: '127.0.0.1:0' });
    expect((await app.request('/metrics')).status).toBe(404);
    const listener = await startMetricsListener(h.deps.metrics!, {
      listen: '127.0.0.1:0',
      token: 'metrics-token-0123456789',
    });
    try {
      const url = `http://127.0.0.1:${listener.port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('offerflow_http_requests_total');
      expect((await fetch(`http://127.0.0.1:${listener.port}/v1/customers`)).status).toBe(404);
    } finally {
      await listener.close();
    }
  });
});

describe('the consent IP', () => {
  const consent = (app: ReturnType<typeof createApp>, peer: string, forwarded?: string) =>
    h.keyFor('admin').then(async (key) => {
      const res = await app.request(
        `/v1/customers/${customerId}/consents`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            ...(forwarded ? { 'x-forwarded-for': forwarded } : {}),
          },
          body: JSON.stringify({ purpose: 'profiling', granted: true, source: 'web_form' }),
        },
        fromPeer(peer),
      );
      expect(res.status).toBe(201);
      return (await json(res)).ip as string | null;
    });

  it('is the connection’s peer, whatever X-Forwarded-For claims, without a trusted proxy', async () => {
    expect(await consent(h.app, '198.51.100.20', '192.0.2.99')).toBe('198.51.100.20');
    // Over a real socket as well.
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/v1/customers/${customerId}/consents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await h.keyFor('admin')}`,
          'content-type': 'application/json',
          'x-forwarded-for': '192.0.2.99',
        },
        body: JSON.stringify({ purpose: 'profiling', granted: false, source: 'web_form' }),
      });
      expect(res.status).toBe(201);
      expect((await json(res)).ip).toBe('127.0.0.1');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('comes from X-Forwarded-For behind a TRUSTED_PROXIES proxy: the nearest address it did not add', async () => {
    const app = appWith({ TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::1' });
    expect(await consent(app, '10.1.2.3', '192.0.2.10')).toBe('192.0.2.10');
    // A client that sends its own X-Forwarded-For cannot choose its address.
    expect(await consent(app, '10.1.2.3', '6.6.6.6, 192.0.2.11, 10.0.0.9')).toBe('192.0.2.11');
    expect(await consent(app, '::ffff:10.0.0.4', '192.0.2.12')).toBe('192.0.2.12');
    expect(await consent(app, '2001:db8::1', '192.0.2.13')).toBe('192.0.2.13');
    // Not from the proxy: the header is ignored.
    expect(await consent(app, '198.51.100.21', '192.0.2.14')).toBe('198.51.100.21');
    // Garbage in the header: the proxy's own address, never the garbage.
    expect(await consent(app, '10.1.2.3', 'not-an-ip')).toBe('10.1.2.3');
  });

  it('TRUSTED_PROXIES that is not a list of addresses stops the start with its name', async () => {
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, proxy.internal' })).toThrow(/TRUSTED_PROXIES/);
    expect(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1' }).TRUSTED_PROXIES).toBe('10.0.0.0/8, ::1');
  });
});
