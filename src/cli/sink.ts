import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { startSmtpSink } from '../dev/smtp-sink.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow sink [--port N] [--outbox DIR]   a local SMTP server that keeps every mail as DIR/<Message-ID>.eml
                                             (default: the port of SMTP_URL, 2525; .offerflow/outbox)
`;

/**
 * `offerflow sink`: the demo's SMTP sink on its own, for trying the product by hand (serve,
 * worker, a trigger, a purchase) without a mail server: what the workers send lands as .eml files.
 */
export async function sink(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string' }, outbox: { type: 'string' } },
  });
  const smtp = new URL(loadConfig().SMTP_URL);
  const port = Number(values.port ?? (smtp.port || 25));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(HELP);
  const outboxDir = resolve(values.outbox ?? '.offerflow/outbox');
  await mkdir(outboxDir, { recursive: true });
  const server = await startSmtpSink({ port, host: smtp.hostname, outboxDir });
  process.stdout.write(`SMTP sink on ${server.url}, keeping each mail in ${outboxDir} (Ctrl-C stops it)\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await server.close();
  process.stdout.write(`${server.accepted} mail(s) accepted\n`);
  return 0;
}
