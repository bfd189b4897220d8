import type { App } from '../http/env.js';
import { NO_STORE } from '../tracking/fast-path.js';
import { notFoundPage } from '../tracking/pages.js';
import { verifyToken } from '../tracking/tokens.js';
import { createMessageRenderer, type MessageRenderer } from './render-message.js';
import { sentMessageForWebVersion } from './store.js';

/**
 * `GET /w/{token}`: the hosted web version of a sent mail ("view in browser"), rendered again
 * from its ledger row. The signed token is the credential, as for unsubscribe links; the page
 * is not indexed and not cached, and opening it is not counted as an open.
 */
export function registerWebVersionRoutes(app: App): void {
  let render: MessageRenderer | undefined;
  app.get('/w/:token', async (c) => {
    const claims = verifyToken(c.var.deps.config.OFFERFLOW_SECRET, 'web', c.req.param('token'));
    const message = claims ? await sentMessageForWebVersion(c.var.deps.sql, claims.messageId) : undefined;
    if (!message) return c.html(notFoundPage(), 404, NO_STORE);
    render ??= createMessageRenderer(c.var.deps);
    const mail = await render(message);
    return c.html(mail.webHtml, 200, {
      ...NO_STORE,
      'x-robots-tag': 'noindex',
      'referrer-policy': 'no-referrer',
    });
  });
}
