import { type Config, loadConfig } from '../config.js';

/** Hyperdrive's binding: a connection string to its pooled, nearby proxy of PostgreSQL. */
export interface HyperdriveBinding {
  connectionString: string;
}

/**
 * The Worker's bindings (wrangler.toml `[vars]`, secrets, `[[hyperdrive]]`). Variables are the
 * same names as the Node environment; DATABASE_URL comes from Hyperdrive, not from a variable.
 */
export interface EdgeEnv {
  HYPERDRIVE: HyperdriveBinding;
  OFFERFLOW_SECRET?: string;
  PUBLIC_URL?: string;
  LOG_LEVEL?: string;
  BODY_LIMIT_BYTES?: string;
  MARKETING_LEGAL_BASIS?: string;
  RETENTION_EVENTS_DAYS?: string;
  RETENTION_INACTIVE_DAYS?: string;
  REPORT_CURRENCY?: string;
  IMPORT_TRIGGER_MAX_AGE_HOURS?: string;
  /** ESP webhooks served at the edge (docs/operations.md). */
  SES_SNS_TOPIC_ARNS?: string;
  SENDGRID_WEBHOOK_PUBLIC_KEY?: string;
  POSTMARK_WEBHOOK_USER?: string;
  POSTMARK_WEBHOOK_PASSWORD?: string;
  MAILGUN_WEBHOOK_SIGNING_KEY?: string;
  PREFERENCE_LINK_DAYS?: string;
  OPT_IN_LINK_DAYS?: string;
}

/**
 * The app's Config from the bindings, validated by the same schema as on Node. Unlike Node, a
 * Worker refuses to start without its own OFFERFLOW_SECRET and PUBLIC_URL: the development
 * defaults would sign links anyone can forge and point them at localhost.
 */
export function edgeConfig(env: EdgeEnv): Config {
  const vars: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) if (typeof value === 'string') vars[key] = value;
  const config = loadConfig({ ...vars, DATABASE_URL: env.HYPERDRIVE?.connectionString });
  const missing = [
    ...(env.OFFERFLOW_SECRET ? [] : ['OFFERFLOW_SECRET (wrangler secret put OFFERFLOW_SECRET)']),
    ...(env.PUBLIC_URL ? [] : ['PUBLIC_URL ([vars] in wrangler.toml)']),
    ...(env.HYPERDRIVE?.connectionString ? [] : ['HYPERDRIVE ([[hyperdrive]] binding)']),
  ];
  if (missing.length > 0) throw new Error(`The Worker is missing: ${missing.join(', ')}`);
  if (config.OFFERFLOW_SECRET === loadConfig({}).OFFERFLOW_SECRET) {
    throw new Error('OFFERFLOW_SECRET is the development default; set a random secret of 32+ characters');
  }
  return config;
}
