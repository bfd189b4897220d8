import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { clientBehindProxies, normaliseAddress, parseTrustedProxies } from './trusted-proxies.js';

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
  /** Present on Cloudflare Workers only. */
  HYPERDRIVE?: unknown;
}

const cache = new WeakMap<object, ReturnType<typeof parseTrustedProxies>>();

/**
 * The address of the client that sent this request: the socket's peer on Node, Cloudflare's
 * CF-Connecting-IP on Workers, and X-Forwarded-For only where the peer is a TRUSTED_PROXIES
 * proxy. Undefined when the runtime does not tell (an in-process request).
 */
export function clientIp<E extends AppEnv>(c: Context<E>): string | undefined {
  const env = c.env as NodeBindings | undefined;
  const peer = env?.HYPERDRIVE
    ? normaliseAddress(c.req.header('cf-connecting-ip'))
    : normaliseAddress(env?.incoming?.socket?.remoteAddress);
  if (!peer) return undefined;
  const config = c.var.deps.config;
  let ranges = cache.get(config);
  if (!ranges) {
    ranges = parseTrustedProxies(config.TRUSTED_PROXIES) ?? [];
    cache.set(config, ranges);
  }
  return clientBehindProxies(peer, c.req.header('x-forwarded-for'), ranges);
}
