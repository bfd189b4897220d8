import { createPublicKey } from 'node:crypto';
import { organizationalDomain } from './alignment.js';

export interface DnsRecord {
  /** What the record is for: spf, dkim, dmarc. */
  purpose: 'spf' | 'dkim' | 'dmarc';
  type: 'TXT';
  name: string;
  value: string;
  note: string;
}

/** The public key of a PEM private key, as DKIM's `p=` wants it (base64 DER SubjectPublicKeyInfo). */
export function dkimPublicKey(privateKeyPem: string): { p: string; k: 'rsa' | 'ed25519' } {
  const key = createPublicKey(privateKeyPem);
  const der = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519') {
    // RFC 8463: the raw 32-byte key, not the SPKI wrapper.
    return { p: der.subarray(der.length - 32).toString('base64'), k: 'ed25519' };
  }
  return { p: der.toString('base64'), k: 'rsa' };
}

/**
 * The records to publish for a sender: SPF on the From domain (the envelope domain, when the
 * return path is there), the DKIM public key at `<selector>._domainkey.<domain>`, and a DMARC
 * policy starting at `p=none` with aggregate reports, to tighten once reports are clean.
 */
export function dnsRecordsFor(sender: {
  from_address: string;
  dkim_domain: string | null;
  dkim_selector: string | null;
  dkim_public_key: string | null;
}): DnsRecord[] {
  const fromDomain = sender.from_address.split('@').pop()!.toLowerCase();
  const records: DnsRecord[] = [
    {
      purpose: 'spf',
      type: 'TXT',
      name: fromDomain,
      value: 'v=spf1 a mx ~all',
      note: 'List the hosts that relay your mail (your SMTP relay’s include:, or ip4:) before ~all; one SPF record per name, merge with an existing one.',
    },
  ];
  if (sender.dkim_domain && sender.dkim_selector && sender.dkim_public_key) {
    const k = sender.dkim_public_key.length < 60 ? 'ed25519' : 'rsa';
    records.push({
      purpose: 'dkim',
      type: 'TXT',
      name: `${sender.dkim_selector}._domainkey.${sender.dkim_domain}`,
      value: `v=DKIM1; k=${k}; p=${sender.dkim_public_key}`,
      note: 'The public half of the key that signs this sender’s mail; long values are split into 255-character strings by most DNS hosts.',
    });
  }
  // DMARC is looked up at the From domain's organizational domain.
  const dmarcDomain = organizationalDomain(fromDomain) ?? fromDomain;
  records.push({
    purpose: 'dmarc',
    type: 'TXT',
    name: `_dmarc.${dmarcDomain}`,
    value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${dmarcDomain}; adkim=r; aspf=r`,
    note: 'Start with p=none and read the aggregate reports; move to p=quarantine, then p=reject, once all your mail passes.',
  });
  return records;
}
