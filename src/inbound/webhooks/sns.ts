import { createVerify, X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** The fields of an SNS HTTP(S) delivery (Notification, SubscriptionConfirmation, UnsubscribeConfirmation). */
export interface SnsEnvelope {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

/**
 * Where SNS signing certificates come from, and how a subscription is confirmed: in production
 * both are HTTPS GETs to amazonaws.com; tests and air-gapped installs pass their own.
 */
export interface SnsClient {
  /** The PEM certificate at a SigningCertURL that already passed `isSnsUrl`. */
  certificate(url: string): Promise<string>;
  /** Visits a SubscribeURL (confirms the subscription). */
  confirmSubscription(url: string): Promise<void>;
}

// SNS hosts are sns.<region>.amazonaws.com (and .com.cn in China); nothing else may hand us a key.
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Whether a URL is an https URL on an SNS host (SigningCertURL, SubscribeURL). */
export function isSnsUrl(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && SNS_HOST.test(url.hostname) && !url.username && !url.port;
  } catch {
    return false;
  }
}

/** The fields SNS signs, in the documented order, for the message's Type. */
const SIGNED_FIELDS: Record<string, (keyof SnsEnvelope)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** The string SNS signs: each present field's name and value, each on its own line. */
export function snsStringToSign(message: SnsEnvelope): string | null {
  const fields = SIGNED_FIELDS[message.Type];
  if (!fields) return null;
  let out = '';
  for (const field of fields) {
    const value = message[field];
    if (value === undefined) {
      if (field === 'Subject') continue; // the only optional one
      return null;
    }
    out += `${field}\n${value}\n`;
  }
  return out;
}

/** Checks an SNS message's signature (version 1: SHA1withRSA, 2: SHA256withRSA) with the certificate. */
export async function verifySnsSignature(message: SnsEnvelope, client: SnsClient): Promise<boolean> {
  const algorithm =
    message.SignatureVersion === '1' ? 'RSA-SHA1' : message.SignatureVersion === '2' ? 'RSA-SHA256' : null;
  const signed = snsStringToSign(message);
  if (!algorithm || signed === null || !isSnsUrl(message.SigningCertURL)) return false;
  let pem: string;
  try {
    pem = await client.certificate(message.SigningCertURL);
  } catch {
    return false;
  }
  try {
    const cert = new X509Certificate(pem);
    const now = Date.now();
    if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return false;
    return createVerify(algorithm)
      .update(signed, 'utf8')
      .verify(cert.publicKey, Buffer.from(message.Signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The production client: certificates fetched over HTTPS (Node's fetch checks the server's
 * certificate, which is how the key is known to be Amazon's) and cached by URL; given a pinned
 * certificate (SNS_CERTIFICATE_FILE), that one is used for every SNS-hosted URL instead.
 */
export function createSnsClient(options: { pinnedCertificate?: string | undefined } = {}): SnsClient {
  const pinned = options.pinnedCertificate ?? null;
  const cache = new LRUCache<string, string>({ max: 50, ttl: 24 * 3600_000 });
  return {
    async certificate(url) {
      if (pinned) return pinned;
      const cached = cache.get(url);
      if (cached) return cached;
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`SigningCertURL answered ${res.status}`);
      const pem = await res.text();
      if (!pem.includes('-----BEGIN CERTIFICATE-----'))
        throw new Error('SigningCertURL is not a PEM certificate');
      cache.set(url, pem);
      return pem;
    },
    async confirmSubscription(url) {
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`SubscribeURL answered ${res.status}`);
    },
  };
}
