import { createMiddleware } from 'hono/factory';
import { UiError } from '../../api.js';
import type { UiEnv } from '../../env.js';

/** Admin pages answer 403 to any other role (the API behind them refuses them too). */
export const adminOnly = createMiddleware<UiEnv>(async (c, next) => {
  if (c.var.auth?.role !== 'admin') throw new UiError(403, 'Only an admin may open this page');
  await next();
});
