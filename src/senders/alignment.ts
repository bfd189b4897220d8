import { getDomain } from 'tldts';

/** The domain part of an address, lower-cased (`Shop <a@Shop.Example>` is not accepted: pass the address). */
export const domainOf = (address: string): string => (address.split('@').pop() ?? '').toLowerCase();

/**
 * DMARC relaxed alignment (RFC 7489 §3.1.1): the From domain and the DKIM signing domain have
 * the same organizational domain (the registrable domain, from the Public Suffix List), so
 * `news.shop.example` aligns with `shop.example`, and `shop.co.uk` does not with `co.uk`.
 */
export function dkimAligned(fromDomain: string, dkimDomain: string): boolean {
  const a = fromDomain.toLowerCase().replace(/\.$/, '');
  const b = dkimDomain.toLowerCase().replace(/\.$/, '');
  if (a === b) return true;
  const orgA = organizationalDomain(a);
  const orgB = organizationalDomain(b);
  return orgA !== null && orgA === orgB;
}

/** The registrable domain; private suffixes (github.io…) count, as mailbox providers treat them. */
export function organizationalDomain(domain: string): string | null {
  // `.example`, `.test`, `.localhost` are reserved, not in the list: their last two labels stand in.
  return getDomain(domain, { allowPrivateDomains: true }) ?? (domain.split('.').slice(-2).join('.') || null);
}
