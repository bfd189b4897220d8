import type { Config } from '../config.js';
import type { Customer } from '../customers/schema.js';
import type { Db } from '../db/sql.js';
import type { Role } from '../http/roles.js';
import { selectSensitiveAttributes } from './store.js';

/** The permission to read special-category attributes in customer responses. */
export const SENSITIVE_READ = 'sensitive:read';

export const canReadSensitive = (config: Pick<Config, 'SENSITIVE_READ_ROLES'>, role: Role) =>
  config.SENSITIVE_READ_ROLES.includes(role);

/**
 * A function that shows customers as `role` may see them: unchanged for a role granted
 * `sensitive:read`, else without the attributes the registry declares sensitive. The registry
 * is read once per call, not once per customer.
 */
export async function customerRedactor(
  db: Db,
  config: Pick<Config, 'SENSITIVE_READ_ROLES'>,
  role: Role,
): Promise<(customer: Customer) => Customer> {
  if (canReadSensitive(config, role)) return (customer) => customer;
  const sensitive = new Set((await selectSensitiveAttributes(db)).map((a) => a.key));
  if (sensitive.size === 0) return (customer) => customer;
  return (customer) => ({
    ...customer,
    attributes: Object.fromEntries(Object.entries(customer.attributes).filter(([k]) => !sensitive.has(k))),
  });
}
