import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Delivery {
  messageId: string;
  to: string;
  campaignId: number | null;
  /** When the sink had the whole mail (before its 250 reply). */
  at: number;
}

export interface RecordingSink {
  url: string;
  deliveries: Delivery[];
  /** Deliveries of a campaign counted by Message-ID. */
  countsByMessageId(campaignId: number): Map<string, number>;
  close(): Promise<void>;
}

/**
 * An SMTP sink that records each accepted mail's Message-ID, recipient and arrival time, and can
 * hold its 250 reply for `replyDelayMs` (a slow relay: rows stay `sending` meanwhile).
 */
export async function startRecordingSink(options: { replyDelayMs?: number } = {}): Promise<RecordingSink> {
  const deliveries: Delivery[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
        deliveries.push({
          messageId: /^message-id:\s*(<[^>\r\n]+>)/im.exec(head)?.[1] ?? '',
          to: /^to:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '',
          campaignId: Number(/^x-offerflow-campaign:\s*(\d+)/im.exec(head)?.[1] ?? Number.NaN) || null,
          at: Date.now(),
        });
        setTimeout(() => callback(), options.replyDelayMs ?? 0);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    deliveries,
    countsByMessageId(campaignId) {
      const counts = new Map<string, number>();
      for (const d of deliveries)
        if (d.campaignId === campaignId) counts.set(d.messageId, (counts.get(d.messageId) ?? 0) + 1);
      return counts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
