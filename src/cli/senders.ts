import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createSql } from '../db/sql.js';
import { AppError } from '../http/problem.js';
import { SenderCreateSchema } from '../senders/schema.js';
import { createSenderIdentity, senderDnsRecords } from '../senders/service.js';
import { findDefaultSender, findSender, listSenders, type SenderRow } from '../senders/store.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow senders list
  offerflow senders create --from ADDRESS [--name NAME] [--reply-to ADDRESS]
                           [--dkim-domain DOMAIN [--selector S] [--key-file KEY.pem]] [--default]
  offerflow senders dns [ID]     the SPF, DKIM and DMARC records to publish (default sender when no ID)
`;

function printRecords(row: SenderRow, records: ReturnType<typeof senderDnsRecords>): void {
  process.stdout.write(`DNS records for sender ${row.id} (${row.from_address}):\n\n`);
  for (const r of records) {
    process.stdout.write(`${r.purpose.toUpperCase()}\n  ${r.name}. IN TXT "${r.value}"\n  ${r.note}\n\n`);
  }
}

/** `offerflow senders`: list sender identities, add one, print the DNS records to publish. */
export async function senders(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    await migrate(sql);
    switch (action) {
      case 'list': {
        let after = 0;
        for (;;) {
          const rows = await listSenders(sql, after, 100);
          for (const s of rows.slice(0, 100)) {
            const dkim = s.dkim_domain ? `d=${s.dkim_domain} s=${s.dkim_selector}` : 'no DKIM key';
            process.stdout.write(`${s.id}\t${s.is_default ? 'default' : ''}\t${s.from_address}\t${dkim}\n`);
          }
          if (rows.length <= 100) return 0;
          after = rows[99]!.id;
        }
      }
      case 'create': {
        const { values } = parseArgs({
          args: rest,
          options: {
            from: { type: 'string' },
            name: { type: 'string' },
            'reply-to': { type: 'string' },
            'dkim-domain': { type: 'string' },
            selector: { type: 'string' },
            'key-file': { type: 'string' },
            default: { type: 'boolean' },
          },
        });
        const parsed = SenderCreateSchema.safeParse({
          from_address: values.from,
          from_name: values.name,
          reply_to: values['reply-to'],
          dkim_domain: values['dkim-domain'],
          dkim_selector: values.selector,
          dkim_private_key: values['key-file'] ? readFileSync(values['key-file'], 'utf8') : undefined,
          is_default: values.default,
        });
        if (!parsed.success) {
          const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
          throw new UsageError(`${lines.join('\n')}\n${HELP}`);
        }
        try {
          const row = await sql.begin((tx) => createSenderIdentity(tx, config, parsed.data));
          process.stdout.write(`Created sender ${row.id}${row.is_default ? ' (the default)' : ''}.\n\n`);
          printRecords(row, senderDnsRecords(row, config));
          return 0;
        } catch (error) {
          if (error instanceof AppError && error.errors) {
            throw new UsageError(error.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n'));
          }
          throw error;
        }
      }
      case 'dns': {
        const id = rest[0] === undefined ? undefined : Number(rest[0]);
        if (id !== undefined && (!Number.isInteger(id) || id <= 0))
          throw new UsageError(`senders dns takes a sender id\n${HELP}`);
        const row = id === undefined ? await findDefaultSender(sql) : await findSender(sql, id);
        if (!row) {
          process.stderr.write(
            id === undefined ? 'No default sender: create one first\n' : `No sender ${id}\n`,
          );
          return 1;
        }
        printRecords(row, senderDnsRecords(row, config));
        return 0;
      }
      default:
        throw new UsageError(HELP);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
