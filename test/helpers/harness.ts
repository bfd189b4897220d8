import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { AppDeps, JobDispatcher } from '../../src/deps.js';
import { createApiKey } from '../../src/http/api-keys.js';
import type { App } from '../../src/http/env.js';
import type { Role } from '../../src/http/roles.js';
import { createRedis } from '../../src/queue/connection.js';
import { type BullDispatcher, createBullDispatcher } from '../../src/queue/dispatcher.js';
import { createTestDatabase, type TestDatabase } from './test-db.js';

export interface Harness {
  app: App;
  deps: AppDeps;
  db: TestDatabase;
  /** A BullMQ prefix unique to this harness, so test files never see each other's jobs. */
  queuePrefix: string;
  dispatcher: BullDispatcher;
  keyFor(role: Role): Promise<string>;
  request(method: string, path: string, options?: RequestOptions): Promise<Response>;
  get(path: string, options?: RequestOptions): Promise<Response>;
  post(path: string, body?: unknown, options?: RequestOptions): Promise<Response>;
  patch(path: string, body?: unknown, options?: RequestOptions): Promise<Response>;
  delete(path: string, options?: RequestOptions): Promise<Response>;
  close(): Promise<void>;
}

export interface RequestOptions {
  role?: Role | null;
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The address the request comes from, as Node's server tells the app (the socket's peer). */
  peer?: string;
}

/** The bindings @hono/node-server hands the app for a connection from `peer`. */
export const fromPeer = (peer: string) => ({ incoming: { socket: { remoteAddress: peer } } });

/**
 * The whole app over a fresh database, real Redis and real queues, driven with app.request: the
 * full HTTP stack without a socket. Requests use an admin key unless told otherwise.
 */
export async function createHarness(
  overrides: Partial<AppDeps> = {},
  options: { redisUrl?: string; queuePrefix?: string } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
  } as Record<string, string>);
  const redis = createRedis(config.REDIS_URL);
  const queuePrefix = options.queuePrefix ?? `test_${randomBytes(5).toString('hex')}`;
  const dispatcher = createBullDispatcher(redis, queuePrefix);
  const deps: AppDeps = {
    sql: db.sql,
    config,
    logger: pino({ level: 'silent' }),
    redis,
    jobs: dispatcher as JobDispatcher,
    metrics: new Registry(),
    clock: () => new Date(),
    ...overrides,
  };
  const app = createApp(deps);
  const keys = new Map<Role, string>();
  const keyFor = async (role: Role) => {
    let key = keys.get(role);
    if (!key) {
      key = (await createApiKey(db.sql, { name: `test-${role}`, role })).key;
      keys.set(role, key);
    }
    return key;
  };
  const request = async (method: string, path: string, options: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const role = options.role === undefined ? 'admin' : options.role;
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    else if (role) headers.authorization = `Bearer ${await keyFor(role)}`;
    let body: string | Uint8Array | FormData | undefined;
    if (options.body !== undefined) {
      if (
        typeof options.body === 'string' ||
        options.body instanceof Uint8Array ||
        options.body instanceof FormData
      ) {
        body = options.body;
      } else {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    return app.request(path, { method, headers, body }, options.peer ? fromPeer(options.peer) : undefined);
  };
  return {
    app,
    deps,
    db,
    queuePrefix,
    dispatcher,
    keyFor,
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    patch: (path, body, options) => request('PATCH', path, { ...options, body }),
    delete: (path, options) => request('DELETE', path, options),
    async close() {
      await dispatcher.close();
      redis.disconnect();
      await db.drop();
    },
  };
}

/** A response's JSON body, loosely typed for assertions. */
export async function json(res: Response): Promise<any> {
  return res.json();
}
