import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { authenticateApiKey } from './api-keys.js';
import { clientIp } from './client-ip.js';
import type { AppEnv, AuthContext } from './env.js';
import { AppError } from './problem.js';
import type { Role } from './roles.js';

/**
 * The key of bindings through which the web UI hands its signed-in session's identity to an
 * in-process /v1 call. Only code in this process can set bindings; no request can.
 */
export const IN_PROCESS_AUTH = Symbol('offerflow.inProcessAuth');

/** The client a credential failure is counted against (all unknown clients share one count). */
export const failureClient = <E extends AppEnv>(c: Context<E>) => clientIp(c) ?? 'unknown';

/**
 * Every /v1 request must carry `Authorization: Bearer <key>` of a live key (or come from the
 * UI in process, already signed in). A wrong key counts against the client; past
 * AUTH_FAILURE_LIMIT the client gets 429 until the window ends.
 */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const inProcess = (c.env as { [IN_PROCESS_AUTH]?: AuthContext } | undefined)?.[IN_PROCESS_AUTH];
  if (inProcess) {
    c.set('auth', inProcess);
    return next();
  }
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new AppError(401, 'unauthorized', 'Send an API key as Authorization: Bearer <key>');
  }
  const client = failureClient(c);
  const now = c.var.deps.clock().getTime();
  c.var.authFailures.check(client, now);
  const record = await authenticateApiKey(c.var.deps.sql, match[1]!);
  if (!record) {
    c.var.authFailures.fail(client, now);
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
