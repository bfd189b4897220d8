import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/http/roles.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Walks every operation in /openapi.json, so routes added by any module are covered as they land.
let h: Harness;
let operations: { method: string; path: string; roles: string[] | undefined; secured: boolean }[];

beforeAll(async () => {
  h = await createHarness();
  const doc = await json(await h.get('/openapi.json', { role: null }));
  operations = [];
  for (const [path, item] of Object.entries<Record<string, { 'x-roles'?: string[]; security?: unknown[] }>>(
    doc.paths,
  )) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      operations.push({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, '1'),
        roles: op['x-roles'],
        secured: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
});
afterAll(async () => h.close());

const expectProblem = async (res: Response, status: number, where: string) => {
  expect(res.status, where).toBe(status);
  expect(res.headers.get('content-type'), where).toBe('application/problem+json');
  expect((await json(res)).status, where).toBe(status);
};

describe('every operation in /openapi.json', () => {
  it('has operations, and every /v1 one is secured and lists its roles', () => {
    expect(operations.length).toBeGreaterThan(5);
    for (const op of operations.filter((o) => o.path.startsWith('/v1/'))) {
      expect(op.secured, `${op.method} ${op.path} security`).toBe(true);
      expect(op.roles, `${op.method} ${op.path} x-roles`).toBeDefined();
    }
  });

  it('answers 401 problem+json without a key', async () => {
    for (const op of operations.filter((o) => o.secured)) {
      await expectProblem(
        await h.request(op.method, op.path, { role: null }),
        401,
        `${op.method} ${op.path}`,
      );
    }
  });

  it('answers 403 problem+json to a role the operation does not admit', async () => {
    for (const op of operations.filter((o) => o.secured)) {
      const excluded = ROLES.filter((r) => !op.roles!.includes(r));
      expect(excluded.length, `${op.method} ${op.path} admits every role`).toBeGreaterThan(0);
      for (const role of excluded) {
        await expectProblem(
          await h.request(op.method, op.path, { role }),
          403,
          `${op.method} ${op.path} as ${role}`,
        );
      }
    }
  });
});
