import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/*
 * Where a webhook may be delivered: not to loopback, private, link-local (cloud metadata),
 * unique-local, CGNAT or unspecified addresses, unless the operator allows them
 * (WEBHOOK_ALLOW_PRIVATE). Checked when an endpoint is saved, and again on the address each
 * delivery connects to (a name may resolve elsewhere by then: DNS rebinding).
 */

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** True for an address a webhook must not reach without WEBHOOK_ALLOW_PRIVATE. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is checked as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

/** Why a webhook URL is refused (null when it is fine): scheme, credentials, private addresses. */
export async function refusedUrl(raw: string, allowPrivate: boolean): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (allowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? privateMessage : null;
  if (host === 'localhost' || host.endsWith('.localhost')) return privateMessage;
  try {
    const addresses = await lookup(host, { all: true, verbatim: true });
    if (addresses.some((a) => isPrivateAddress(a.address))) return privateMessage;
  } catch {
    return 'the host name does not resolve';
  }
  return null;
}

const privateMessage =
  'resolves to a loopback, private or link-local address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)';
