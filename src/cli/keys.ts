import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql } from '../db/sql.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../http/api-keys.js';
import { ROLES, type Role } from '../http/roles.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow keys create --name NAME --role ${ROLES.join('|')}
  offerflow keys list
  offerflow keys revoke ID
`;

/** `keys create` prints the key alone on the last line of standard output, so scripts can take it. */
export async function keys(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await migrate(sql);
    switch (action) {
      case 'create': {
        const { values } = parseArgs({
          args: rest,
          options: { name: { type: 'string' }, role: { type: 'string' } },
        });
        if (!values.name) throw new UsageError(`keys create needs --name\n${HELP}`);
        if (!values.role || !ROLES.includes(values.role as Role)) {
          throw new UsageError(`keys create needs --role, one of ${ROLES.join(', ')}\n${HELP}`);
        }
        const { key, record } = await createApiKey(sql, { name: values.name, role: values.role as Role });
        process.stdout.write(`Created API key ${record.id} "${record.name}" with role ${record.role}.\n`);
        process.stdout.write('It is shown once; only its hash is stored:\n');
        process.stdout.write(`${key}\n`);
        return 0;
      }
      case 'list': {
        for (const k of await listApiKeys(sql)) {
          const state = k.revoked_at ? 'revoked' : 'live';
          process.stdout.write(`${k.id}\t${k.prefix}…\t${k.role}\t${state}\t${k.name}\n`);
        }
        return 0;
      }
      case 'revoke': {
        const id = Number(rest[0]);
        if (!Number.isInteger(id) || id <= 0) throw new UsageError(`keys revoke needs a key id\n${HELP}`);
        if (!(await revokeApiKey(sql, id))) {
          process.stderr.write(`No live key with id ${id}\n`);
          return 1;
        }
        process.stdout.write(`Revoked key ${id}\n`);
        return 0;
      }
      default:
        throw new UsageError(HELP);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
