import { createMiddleware } from 'hono/factory';
import { authenticateApiKey } from './api-keys.js';
import type { AppEnv } from './env.js';
import { AppError } from './problem.js';
import type { Role } from './roles.js';

/** Every /v1 request must carry `Authorization: Bearer <key>` of a live key. */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new AppError(401, 'unauthorized', 'Send an API key as Authorization: Bearer <key>');
  }
  const record = await authenticateApiKey(c.var.deps.sql, match[1]!);
  if (!record) {
    throw new AppError(401, 'unauthorized', 'The API key is unknown or revoked');
  }
  c.set('auth', { keyId: record.id, name: record.name, role: record.role });
  await next();
});

/** Admits the given roles (admin always); any other gets 403. */
export function requireRoles(roles: readonly Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const auth = c.var.auth;
    if (!auth) throw new AppError(401, 'unauthorized', 'Send an API key as Authorization: Bearer <key>');
    if (auth.role !== 'admin' && !roles.includes(auth.role)) {
      throw new AppError(
        403,
        'forbidden',
        `The role ${auth.role} may not do this (allowed: ${roles.join(', ')})`,
      );
    }
    await next();
  });
}
