import ipaddr from 'ipaddr.js';

export type AddressRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * TRUSTED_PROXIES as ranges (a bare address is a range of one); undefined when any entry is not
 * an address or CIDR range.
 */
export function parseTrustedProxies(value: string): AddressRange[] | undefined {
  const ranges: AddressRange[] = [];
  for (const entry of value.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    try {
      if (entry.includes('/')) {
        const [address, bits] = ipaddr.parseCIDR(entry);
        ranges.push([address.kind() === 'ipv6' ? ipaddr.process(address.toString()) : address, bits]);
      } else {
        const address = ipaddr.process(entry);
        ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      return undefined;
    }
  }
  return ranges;
}

/** An address in canonical form (IPv4-mapped IPv6 as plain IPv4); undefined when it is none. */
export function normaliseAddress(value: string | undefined): string | undefined {
  if (!value || !ipaddr.isValid(value.trim())) return undefined;
  return ipaddr.process(value.trim()).toString();
}

/** Whether an address lies in one of the ranges. */
export function inRanges(address: string, ranges: readonly AddressRange[]): boolean {
  if (ranges.length === 0) return false;
  const parsed = ipaddr.process(address);
  return ranges.some(([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits));
}

/**
 * The client behind a chain of proxies: walking X-Forwarded-For from the right (the hop nearest
 * to us), every address a trusted proxy added is skipped; the first one not trusted is the
 * client. Entries further left were written by the client itself and prove nothing.
 */
export function clientBehindProxies(
  peer: string,
  forwardedFor: string | undefined,
  ranges: readonly AddressRange[],
): string {
  if (!inRanges(peer, ranges) || !forwardedFor) return peer;
  const hops = forwardedFor.split(',').map((h) => h.trim());
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseAddress(hops[i]);
    if (!hop) break; // a malformed entry: stop at the last address we could vouch for
    client = hop;
    if (!inRanges(hop, ranges)) break;
  }
  return client;
}
