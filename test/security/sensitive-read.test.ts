import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import type { Role } from '../../src/http/roles.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Special-category attributes (health, political opinions) in GET /v1/customers and
// /v1/customers/{id} go only to roles granted `sensitive:read` (SENSITIVE_READ_ROLES, admin by
// default); the others get the customer without them, and /openapi.json says so.

let h: Harness;
let id: number;
const ATTRIBUTES = { diagnosis: 'asthma', party: 'green', loyalty_tier: 'gold' };

beforeAll(async () => {
  h = await createHarness();
  for (const body of [
    { key: 'diagnosis', type: 'string', sensitive: true, category: 'health' },
    { key: 'party', type: 'string', sensitive: true, category: 'political_opinions' },
    { key: 'loyalty_tier', type: 'string' },
  ]) {
    expect((await h.post('/v1/attributes', body)).status).toBe(201);
  }
  const res = await h.post('/v1/customers', {
    external_id: 'sens-1',
    email: 'sens@example.test',
    attributes: ATTRIBUTES,
  });
  expect(res.status).toBe(201);
  id = (await json(res)).id;
});
afterAll(async () => h.close());

const readers: Role[] = ['sales', 'marketer', 'integrator'];

describe('special-category attributes', () => {
  it('are omitted for reading roles without sensitive:read, on the card and in the list', async () => {
    for (const role of readers) {
      const one = await json(await h.get(`/v1/customers/${id}`, { role }));
      expect(one.attributes, role).toEqual({ loyalty_tier: 'gold' });
      const list = await json(await h.get('/v1/customers?limit=10', { role }));
      const mine = list.data.find((c: { id: number }) => c.id === id);
      expect(mine.attributes, role).toEqual({ loyalty_tier: 'gold' });
      const byEmail = await json(await h.get('/v1/customers?email=sens@example.test', { role }));
      expect(byEmail.data[0].attributes, role).toEqual({ loyalty_tier: 'gold' });
    }
  });

  it('are omitted from what a write answers, too', async () => {
    const patched = await h.patch(`/v1/customers/${id}`, { first_name: 'Sen' }, { role: 'sales' });
    expect(patched.status).toBe(200);
    expect((await json(patched)).attributes).toEqual({ loyalty_tier: 'gold' });
    const upserted = await h.post('/v1/customers', { external_id: 'sens-1' }, { role: 'integrator' });
    expect((await json(upserted)).attributes).toEqual({ loyalty_tier: 'gold' });
    // Omitted in the answer, never removed from the profile.
    expect((await json(await h.get(`/v1/customers/${id}`))).attributes).toEqual(ATTRIBUTES);
  });

  it('go to admin by default, and to the roles SENSITIVE_READ_ROLES grants', async () => {
    expect((await json(await h.get(`/v1/customers/${id}`))).attributes).toEqual(ATTRIBUTES);
    const granted = createApp({
      ...h.deps,
      config: { ...h.deps.config, SENSITIVE_READ_ROLES: ['admin', 'sales'] },
    });
    const as = async (role: Role) =>
      json(
        await granted.request(`/v1/customers/${id}`, {
          headers: { authorization: `Bearer ${await h.keyFor(role)}` },
        }),
      );
    expect((await as('sales')).attributes).toEqual(ATTRIBUTES);
    expect((await as('marketer')).attributes).toEqual({ loyalty_tier: 'gold' });
  });

  it('the OpenAPI document says who gets them', async () => {
    const doc = await json(await h.get('/openapi.json', { role: null }));
    for (const op of [doc.paths['/v1/customers/{id}'].get, doc.paths['/v1/customers'].get]) {
      expect(op.description).toContain('sensitive:read');
    }
    expect(doc.components.schemas.Customer.properties.attributes.description).toContain('sensitive:read');
  });
});
