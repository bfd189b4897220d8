import { z } from 'zod';
import { ROLES } from './http/roles.js';
import { parseTrustedProxies } from './http/trusted-proxies.js';

const isUrlOf = (value: string, protocols: string[]) => {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

const url = (protocols: string[]) =>
  z.string().refine((value) => isUrlOf(value, protocols), {
    message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  });

/** `redis+cluster://[user:password@]host:port,host:port…` (`rediss+cluster` for TLS). */
const REDIS_CLUSTER_URL = /^rediss?\+cluster:\/\/(?:[^@/]*@)?[^,/@]+:\d{1,5}(?:,[^,/@]+:\d{1,5})*\/?$/;

/** The environment Offerflow reads, with defaults that point at local services. */
export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default(
    'postgres://offerflow:offerflow@127.0.0.1:5432/offerflow',
  ),
  // Or `redis+cluster://host:port,host:port`: a Redis Cluster's seed nodes (src/queue/connection.ts).
  REDIS_URL: z
    .string()
    .refine((value) => REDIS_CLUSTER_URL.test(value) || isUrlOf(value, ['redis:', 'rediss:']), {
      message: 'must be a URL starting with redis:// or rediss://, or redis+cluster://host:port,host:port',
    })
    .default('redis://127.0.0.1:6379'),
  SMTP_URL: url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:2525'),
  OFFERFLOW_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (a random secret used to sign tracking links)')
    .default('offerflow-development-secret-change-me-0123456789'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
  /** Largest CSV file POST /v1/imports accepts; it streams to the database, so it is not held in memory. */
  IMPORT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * 1024 * 1024 * 1024),
  /**
   * Uploads POST /v1/imports takes at once per process; past it, a 429 with Retry-After. Each
   * upload holds a database connection while it streams, so this keeps the pool for the API.
   */
  IMPORT_CONCURRENT_UPLOADS: z.coerce.number().int().positive().default(4),
  /**
   * Imported purchase lines older than this many hours fire no automation (last year's orders
   * get no "thank you" today) unless the import asks with `triggers=all`.
   */
  IMPORT_TRIGGER_MAX_AGE_HOURS: z.coerce.number().positive().default(24),
  /** The currency reports, the dashboard and offer results add revenue in (see POST /v1/currency-rates). */
  REPORT_CURRENCY: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code like EUR')
    .transform((v) => v.toUpperCase())
    .default('EUR'),
  /**
   * Legal basis for marketing email: `consent` (explicit opt-in), `double_opt_in` (opt-in that
   * counts only once the address confirms it from a mailed link) or `legitimate_interest` (opt-out).
   */
  MARKETING_LEGAL_BASIS: z.enum(['consent', 'double_opt_in', 'legitimate_interest']).default('consent'),
  /** Days a double opt-in confirmation link stays valid. */
  OPT_IN_LINK_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** Days after its message a preference-page link works (one-click unsubscribe never expires). */
  PREFERENCE_LINK_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /**
   * Domain whose MX points at `offerflow inbound`: each message's envelope sender (Return-Path)
   * becomes `bounce+<signed token>@BOUNCE_DOMAIN`, and the List-Unsubscribe mailto address is
   * `unsubscribe@BOUNCE_DOMAIN`. Unset: the envelope sender is the From address.
   */
  BOUNCE_DOMAIN: z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, {
      message: 'must be a domain name such as bounces.example.com',
    })
    .optional(),
  /** Where `offerflow inbound` listens for SMTP (loopback unless told; put an MTA or a port 25 forward in front). */
  INBOUND_HOST: z.string().min(1).default('127.0.0.1'),
  INBOUND_PORT: z.coerce.number().int().min(0).max(65535).default(2526),
  /** Soft bounces (4.x.x) of one customer within SOFT_BOUNCE_WINDOW_DAYS that suppress the address. */
  SOFT_BOUNCE_LIMIT: z.coerce.number().int().min(1).default(3),
  SOFT_BOUNCE_WINDOW_DAYS: z.coerce.number().int().min(1).default(14),
  /** ESP webhooks: a signed request older than this (or from the future by as much) is a replay. */
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).default(300),
  /**
   * Outbound webhooks may target loopback, private and link-local addresses (refused by
   * default, at creation and again at each delivery, against DNS rebinding): `true` allows them.
   */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0', ''])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /** Webhook retries: exponential from this delay, for up to WEBHOOK_RETRY_WINDOW_SECONDS. */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(5000),
  WEBHOOK_RETRY_WINDOW_SECONDS: z.coerce.number().int().min(1).default(86_400),
  /** Amazon SES through SNS: the topic ARNs accepted (comma-separated); unset refuses every SNS post. */
  SES_SNS_TOPIC_ARNS: z.string().optional(),
  /**
   * A PEM certificate to check SNS signatures with instead of fetching SigningCertURL (an
   * install without outbound HTTPS; tests). The URL must still be an SNS host.
   */
  SNS_CERTIFICATE_FILE: z.string().optional(),
  /** SendGrid's signed event webhook verification key (base64 DER or PEM, ECDSA P-256). */
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().optional(),
  /** Postmark webhooks: the basic-auth user and password put in the webhook URL. */
  POSTMARK_WEBHOOK_USER: z.string().optional(),
  POSTMARK_WEBHOOK_PASSWORD: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Mailgun's HTTP webhook signing key. */
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().optional(),
  /** Contact events older than this many days lose their text and non-fact data (0: never). */
  RETENTION_EVENTS_DAYS: z.coerce.number().int().min(0).default(730),
  /**
   * Receipts of applied bounce/complaint webhooks and DSNs are kept this many days, then pruned
   * by the retention worker (0: never). Far longer than any provider's retry or signature
   * timestamp window, so a replay inside those windows is still recognised.
   */
  RETENTION_INBOUND_RECEIPTS_DAYS: z.coerce.number().int().min(0).default(30),
  /**
   * Where `offerflow serve` journals acknowledged opens and clicks until PostgreSQL has them
   * (survives a crash of the server or an outage of the database; replayed at start). Local
   * disk of the server, one directory per server machine.
   */
  TRACKING_SPOOL_DIR: z.string().default('.offerflow/tracking-spool'),
  /** Customers without activity for this many days are flagged inactive (0: never). */
  RETENTION_INACTIVE_DAYS: z.coerce.number().int().min(0).default(1095),
  /**
   * The default sender's DKIM key when no sender identity holds one: all three set, or none.
   * The key is PEM text or a path to a PEM file.
   */
  DKIM_DOMAIN: z.string().max(253).optional(),
  DKIM_SELECTOR: z.string().max(63).optional(),
  DKIM_PRIVATE_KEY: z.string().optional(),
  /** From address (`Name <address>` or `address`) used when no sender identity exists yet. */
  MAIL_FROM: z.string().max(320).optional(),
  /** The postal address shown in the default footers (CAN-SPAM, and what receivers expect). */
  MAIL_POSTAL_ADDRESS: z.string().max(500).optional(),
  /** `production` (or NODE_ENV=production): PUBLIC_URL must then be https. */
  OFFERFLOW_ENV: z.enum(['production', 'development', 'test']).optional(),
  NODE_ENV: z.string().optional(),
  /**
   * Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For is believed, comma
   * separated. Empty: the client is the socket's peer and X-Forwarded-For is ignored.
   */
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .refine((v) => parseTrustedProxies(v) !== undefined, {
      message: 'must be a comma-separated list of IP addresses or CIDR ranges (10.0.0.0/8)',
    }),
  /**
   * Roles granted `sensitive:read`: they see special-category attributes (health, political
   * opinions…) in customer responses; for the others those attributes are omitted.
   */
  SENSITIVE_READ_ROLES: z
    .string()
    .default('admin')
    .transform((v) =>
      v
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(ROLES, { message: `each must be one of ${ROLES.join(', ')}` }))),
  /** A UI session ends after this many minutes without a request. */
  SESSION_IDLE_MINUTES: z.coerce.number().int().positive().default(30),
  /** A UI session ends this many hours after sign-in, however active. */
  SESSION_MAX_HOURS: z.coerce.number().int().positive().default(12),
  /**
   * OpenID Connect sign-in for teams with an identity provider: the issuer URL and this app's
   * client there (redirect URI: PUBLIC_URL/ui/oidc/callback). People must be invited first; the
   * provider proves who they are, their role stays the one an admin gave them.
   */
  OIDC_ISSUER: url(['http:', 'https:']).optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** Failed sign-ins and API key checks one client may make per window; past it, 429. */
  AUTH_FAILURE_LIMIT: z.coerce.number().int().positive().default(10),
  AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().positive().default(60),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * `host:port` of a separate listener for /metrics (e.g. 127.0.0.1:9464); the public port then
   * no longer serves it. Node only.
   */
  METRICS_LISTEN: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9464')
    .optional(),
});

export type Config = z.infer<typeof configSchema> & { PUBLIC_URL: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid environment:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  const dkimSet = [config.DKIM_DOMAIN, config.DKIM_SELECTOR, config.DKIM_PRIVATE_KEY].filter(Boolean).length;
  if (dkimSet !== 0 && dkimSet !== 3)
    throw new ConfigError(
      'Invalid environment:\n  DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY: set all three, or none',
    );
  if (isProduction(config) && !config.PUBLIC_URL?.startsWith('https://')) {
    // RFC 8058: one-click unsubscribe URLs must be https, and so should every tracked link.
    throw new ConfigError(
      `Invalid environment:\n  PUBLIC_URL: must be an https:// URL in production (unsubscribe and tracking links are built from it); got ${config.PUBLIC_URL ?? 'nothing'}`,
    );
  }
  return {
    ...config,
    PUBLIC_URL: (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, ''),
  };
}

/** NODE_ENV=production or OFFERFLOW_ENV=production. */
export function isProduction(config: {
  NODE_ENV?: string | undefined;
  OFFERFLOW_ENV?: string | undefined;
}): boolean {
  return config.NODE_ENV === 'production' || config.OFFERFLOW_ENV === 'production';
}
