import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { handleInboundMail, type InboundDeps } from './handle.js';
import { classifyRecipient } from './verp.js';

export interface InboundServerOptions {
  port: number;
  host: string;
  /** Largest mail accepted (a DSN quotes the original message; 10 MB by default). */
  maxBytes?: number;
}

export interface InboundServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const reject = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/**
 * The inbound SMTP service (smtp-server) for the bounce domain: accepts mail only for VERP
 * addresses with a valid signature and for the unsubscribe address, refuses anything else at
 * RCPT TO (it relays nothing), and answers 250 only once the mail is applied, 451 when the
 * database is unavailable so that the reporting MTA tries again.
 */
export async function startInboundServer(
  deps: InboundDeps,
  options: InboundServerOptions,
): Promise<InboundServer> {
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'Offerflow inbound',
    size: maxBytes,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const target = classifyRecipient(deps.config.OFFERFLOW_SECRET, address.address);
      if (target.kind === 'unknown') return callback(reject(550, '5.1.1 No such mailbox here'));
      if (target.kind === 'bounce_forged') return callback(reject(550, '5.7.1 Unknown return path'));
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          return callback(reject(552, '5.3.4 Message too big'));
        }
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        handleInboundMail(deps, recipients, Buffer.concat(chunks)).then(
          () => callback(),
          (error: unknown) => {
            deps.logger.error({ err: error }, 'inbound mail failed');
            callback(reject(451, '4.3.0 Try again later'));
          },
        );
      });
    },
  });
  server.on('error', (error) => deps.logger.warn({ err: error }, 'inbound smtp error'));
  await new Promise<void>((resolve, rejectListen) => {
    server.server.once('error', rejectListen);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.server.address() as AddressInfo;
  return {
    port: address.port,
    url: `smtp://${options.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
