import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';

export interface TransportEnv {
  SMTP_URL: string;
  /** Connections kept open to the SMTP server per worker process (default 5). */
  SMTP_POOL_SIZE?: string | undefined;
  /** DKIM signing: all three set, or none. The key is PEM text or a path to a PEM file. */
  DKIM_DOMAIN?: string | undefined;
  DKIM_SELECTOR?: string | undefined;
  DKIM_PRIVATE_KEY?: string | undefined;
}

function dkimOptions(env: TransportEnv) {
  const { DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY } = env;
  const set = [DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY].filter(Boolean).length;
  if (set === 0) return undefined;
  if (set !== 3) throw new Error('DKIM needs DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY together');
  const privateKey = DKIM_PRIVATE_KEY!.includes('-----BEGIN')
    ? DKIM_PRIVATE_KEY!
    : readFileSync(DKIM_PRIVATE_KEY!, 'utf8');
  return { domainName: DKIM_DOMAIN!, keySelector: DKIM_SELECTOR!, privateKey };
}

/**
 * One pooled SMTP transport per worker process: connections are reused across messages, which
 * is most of the cost of SMTP. DKIM signing is nodemailer's, when configured.
 */
export function createMailTransport(env: TransportEnv): Transporter {
  const url = new URL(env.SMTP_URL);
  const dkim = dkimOptions(env);
  return nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    ...(url.username
      ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
      : {}),
    pool: true,
    maxConnections: Number(env.SMTP_POOL_SIZE || 10),
    maxMessages: Number.POSITIVE_INFINITY,
    // A local sink or relay without a certificate: STARTTLS is used when offered, not required.
    tls: { rejectUnauthorized: url.searchParams.get('tls_verify') !== 'false' },
    ...(dkim ? { dkim } : {}),
  });
}
