import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { AppDeps } from '../deps.js';
import type { AuthFailures } from './auth-failures.js';
import type { Role } from './roles.js';

export interface AuthContext {
  /** The API key acting, or null when a person signed in to the UI acts. */
  keyId: number | null;
  /** The person acting (a UI session of a user). */
  userId?: number;
  name: string;
  role: Role;
}

export interface AppEnv {
  Variables: {
    deps: AppDeps;
    auth: AuthContext;
    requestId: string;
    log: Logger;
    /** Failed credential checks per client (one count per app). */
    authFailures: AuthFailures;
  };
}

export type App = OpenAPIHono<AppEnv>;
