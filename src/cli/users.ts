import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql } from '../db/sql.js';
import { ROLES, type Role } from '../http/roles.js';
import { userWithLink } from '../users/first-admin.js';
import { listUsers } from '../users/store.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow users create --email EMAIL --role ${ROLES.join('|')} [--name NAME]
  offerflow users list
`;

/** `users create` prints the link to choose a password alone on the last line, for scripts. */
export async function users(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'create' && action !== 'list') throw new UsageError(HELP);
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await migrate(sql);
    if (action === 'list') {
      for (const u of await listUsers(sql))
        process.stdout.write(`${u.id}\t${u.role}\t${u.status}\t${u.email}\t${u.name ?? ''}\n`);
      return 0;
    }
    const { values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
    });
    if (!values.email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email))
      throw new UsageError(`users create needs --email with an email address\n${HELP}`);
    if (!values.role || !ROLES.includes(values.role as Role))
      throw new UsageError(`users create needs --role, one of ${ROLES.join(', ')}\n${HELP}`);
    const result = await userWithLink(sql, config, {
      email: values.email,
      role: values.role as Role,
      name: values.name ?? null,
      now: new Date(),
    });
    process.stdout.write(
      result.created
        ? `Created user ${result.userId} <${values.email}> with role ${result.role}.\n`
        : `User ${result.userId} <${values.email}> exists (role ${result.role}); here is a new link.\n`,
    );
    process.stdout.write(
      'Open this link to choose the password and sign in (it works once, for a limited time):\n',
    );
    process.stdout.write(`${result.url}\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
