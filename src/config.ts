import { z } from 'zod';
import { ROLES } from './http/roles.js';
import { parseTrustedProxies } from './http/trusted-proxies.js';

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

/** The environment Offerflow reads, with defaults that point at local services. */
export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default(
    'postgres://offerflow:offerflow@127.0.0.1:5432/offerflow',
  ),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
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
  /** Legal basis for marketing email: `consent` (explicit opt-in) or `legitimate_interest` (opt-out). */
  MARKETING_LEGAL_BASIS: z.enum(['consent', 'legitimate_interest']).default('consent'),
  /** Contact events older than this many days lose their text and non-fact data (0: never). */
  RETENTION_EVENTS_DAYS: z.coerce.number().int().min(0).default(730),
  /** Customers without activity for this many days are flagged inactive (0: never). */
  RETENTION_INACTIVE_DAYS: z.coerce.number().int().min(0).default(1095),
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
  return {
    ...config,
    PUBLIC_URL: (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, ''),
  };
}
