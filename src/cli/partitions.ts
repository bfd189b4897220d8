import { parseArgs } from 'node:util';
import { PARTITION_MONTHS_AHEAD } from '../../workers/retention.js';
import { loadConfig } from '../config.js';
import {
  detachMonthlyPartitionsBefore,
  ensureMonthlyPartitions,
  listMonthlyPartitions,
  parseMonth,
} from '../db/partitions.js';
import { createSql } from '../db/sql.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow partitions list                    the monthly partitions of contact_events, with sizes
  offerflow partitions ensure [--ahead N]      create this month's and N next months' (default ${PARTITION_MONTHS_AHEAD})
  offerflow partitions detach --before YYYY-MM detach every month before YYYY-MM; each stays a
                                               standalone table to archive (pg_dump -t NAME) and drop
`;

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

/** `offerflow partitions`: list, create ahead, or detach the monthly partitions of the contact history. */
export async function partitions(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'list' && action !== 'ensure' && action !== 'detach') {
    if (action === undefined || action === 'help' || action === '--help') {
      process.stdout.write(HELP);
      return action === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown partitions action "${action}"\n\n${HELP}`);
  }
  const { values } = parseArgs({
    args: rest,
    options: { before: { type: 'string' }, ahead: { type: 'string' } },
  });
  let before: Date | null = null;
  if (action === 'detach') {
    if (!values.before) throw new UsageError(`partitions detach needs --before YYYY-MM\n\n${HELP}`);
    before = parseMonth(values.before);
    if (!before) throw new UsageError(`--before must be a month as YYYY-MM, got "${values.before}"`);
  }
  const ahead = values.ahead === undefined ? PARTITION_MONTHS_AHEAD : Number(values.ahead);
  if (!Number.isInteger(ahead) || ahead < 0 || ahead > 120)
    throw new UsageError(`--ahead must be a whole number of months from 0 to 120, got "${values.ahead}"`);

  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 1 });
  try {
    if (action === 'list') {
      const list = await listMonthlyPartitions(sql, 'contact_events');
      for (const p of list) {
        const rows = p.estimated_rows < 0 ? '?' : String(Math.round(p.estimated_rows));
        process.stdout.write(`${p.month}\t${p.name}\t~${rows} rows\t${mb(p.bytes)}\n`);
      }
      const [def] = await sql<{ n: number }[]>`select count(*)::int as n from contact_events_default`;
      process.stdout.write(
        `default\tcontact_events_default\t${def?.n ?? 0} rows (outside every month partition)\n`,
      );
      return 0;
    }
    if (action === 'ensure') {
      const created = await ensureMonthlyPartitions(sql, 'contact_events', ahead);
      for (const name of created) process.stdout.write(`created ${name}\n`);
      if (created.length === 0) process.stdout.write('all partitions already exist\n');
      return 0;
    }
    const detached = await detachMonthlyPartitionsBefore(sql, 'contact_events', before!);
    for (const p of detached)
      process.stdout.write(`detached ${p.name} (${p.month}); archive it, then drop table ${p.name}\n`);
    if (detached.length === 0) process.stdout.write(`no partition ends before ${values.before}\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
