import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createSql } from '../db/sql.js';
import { startInboundServer } from '../inbound/server.js';
import { createLogger } from '../logger.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow inbound [--port N] [--host H]   receive bounces (DSNs to bounce+<token>@BOUNCE_DOMAIN) and
                                            mailto unsubscribes over SMTP (default INBOUND_HOST:INBOUND_PORT,
                                            127.0.0.1:2526)
`;

/**
 * `offerflow inbound`: the SMTP service the bounce domain's MX (or the MTA in front of it)
 * delivers to. It needs the database and OFFERFLOW_SECRET (to check VERP and unsubscribe tokens).
 */
export async function inbound(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfig();
  const port = Number(values.port ?? config.INBOUND_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(HELP);
  const host = values.host ?? config.INBOUND_HOST;
  const logger = createLogger(config.LOG_LEVEL, 'offerflow-inbound');
  const sql = createSql(config.DATABASE_URL, { max: 5 });
  const server = await startInboundServer({ sql, config, logger, clock: () => new Date() }, { port, host });
  const domain = config.BOUNCE_DOMAIN
    ? `for ${config.BOUNCE_DOMAIN}`
    : '(BOUNCE_DOMAIN is not set: mail goes out without a VERP return path)';
  process.stdout.write(`Offerflow inbound SMTP on ${server.url} ${domain} (Ctrl-C stops it)\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await server.close();
  await sql.end({ timeout: 5 });
  return 0;
}
