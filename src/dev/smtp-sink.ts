import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

export interface SmtpReply {
  code: number;
  message: string;
}

export interface SmtpSinkOptions {
  port?: number;
  host?: string;
  /** Keep each mail as `<Message-ID>.eml` here; null discards (benchmarks). */
  outboxDir?: string | null;
  /** Keep each raw mail in `sink.messages` too (tests). */
  keepInMemory?: boolean;
  /** Reject a recipient (RCPT TO) with this reply, e.g. 550 for unknown users. */
  rejectRecipient?: (address: string) => SmtpReply | null;
  /** Reject a message after DATA with this reply, e.g. 451 for a temporary failure. */
  rejectMessage?: (raw: Buffer, session: SMTPServerSession) => SmtpReply | null;
}

export interface SmtpSink {
  port: number;
  url: string;
  /** Mails accepted so far. */
  accepted: number;
  /** Raw mails accepted, when keepInMemory. */
  messages: Buffer[];
  close(): Promise<void>;
}

const smtpError = (reply: SmtpReply) => Object.assign(new Error(reply.message), { responseCode: reply.code });

/** The Message-ID of a raw mail, made safe as a file name. */
function fileIdOf(raw: Buffer, fallback: string): string {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end === -1 ? Math.min(raw.length, 8192) : end).toString('latin1');
  const match = /^message-id:\s*<?([^>\r\n]+)>?/im.exec(head);
  return (match?.[1] ?? fallback).replace(/[^\w.@+-]/g, '_').slice(0, 200);
}

/**
 * A local SMTP server (smtp-server) that accepts everything, for the demo, tests and benchmarks:
 * it stores each mail as an .eml file, keeps it in memory, or discards it, and can be told to
 * answer 4xx or 5xx to chosen messages or recipients.
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const outbox = options.outboxDir ?? null;
  if (outbox) await mkdir(outbox, { recursive: true });
  let sequence = 0;
  const sink: SmtpSink = { port: 0, url: '', accepted: 0, messages: [], close: async () => {} };
  const buffering = Boolean(outbox || options.keepInMemory || options.rejectMessage);

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    banner: 'Offerflow SMTP sink',
    size: 50 * 1024 * 1024,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const reply = options.rejectRecipient?.(address.address);
      callback(reply ? smtpError(reply) : undefined);
    },
    onData(stream, session, callback) {
      if (!buffering) {
        stream.on('data', () => {});
        stream.on('end', () => {
          sink.accepted += 1;
          callback();
        });
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const reply = options.rejectMessage?.(raw, session);
        if (reply) return callback(smtpError(reply));
        sink.accepted += 1;
        if (options.keepInMemory) sink.messages.push(raw);
        if (!outbox) return callback();
        let name = fileIdOf(raw, `mail-${Date.now()}-${++sequence}`);
        // A second copy of one Message-ID (a resend after a crash) is kept beside the first.
        if (existsSync(join(outbox, `${name}.eml`))) name = `${name}.${Date.now()}-${++sequence}`;
        writeFile(join(outbox, `${name}.eml`), raw).then(
          () => callback(),
          (error: Error) => callback(error),
        );
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.server.address() as AddressInfo;
  sink.port = address.port;
  sink.url = `smtp://${options.host ?? '127.0.0.1'}:${address.port}`;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}
