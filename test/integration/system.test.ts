import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

describe('system routes', () => {
  it('/healthz checks the database and Redis', async () => {
    const res = await h.get('/healthz', { role: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });

  it('/metrics serves Prometheus text with request counts', async () => {
    await h.get('/healthz', { role: null });
    const res = await h.get('/metrics', { role: null });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('offerflow_http_requests_total{method="GET",route="/healthz",status="200"}');
  });

  it('/openapi.json is OpenAPI 3.1 with bearer security', async () => {
    const res = await h.get('/openapi.json', { role: null });
    const doc = await json(res);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('answers unknown routes with problem+json 404', async () => {
    const res = await h.get('/nowhere', { role: null });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('needs a valid key on /v1 and carries a request id', async () => {
    const none = await h.get('/v1/customers', { role: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.headers.get('x-request-id')).toBeTruthy();
    const bad = await h.get('/v1/customers', { key: 'ofk_not-a-real-key' });
    expect(bad.status).toBe(401);
    expect((await json(bad)).detail).toMatch(/unknown or revoked/);
  });
});
