import { type ParsedMail, simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import type { Config } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type InboundServer, startInboundServer } from '../../src/inbound/server.js';
import { bounceToken, verifyBounceToken } from '../../src/inbound/verp.js';
import { emailHash } from '../../src/messages/suppression.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// The inbound loop through real SMTP both ways: a campaign goes out through the workers to a
// sink (the envelope sender is the VERP address), and DSNs, auto-replies and mailto
// unsubscribes come back to `offerflow inbound`'s server, started here on a free port.

const BOUNCE_DOMAIN = 'bounces.shop.example';
let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let inbound: InboundServer;
let workers: RunningWorkers | undefined;
let config: Config;
const envelopes = new Map<string, string>();
let mails: ParsedMail[] = [];
let sent: { id: number; customer_id: number; email: string }[] = [];

/** Sends a raw mail to the inbound server as a reporting MTA would. */
async function deliver(to: string, raw: string) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: inbound.port, secure: false });
  try {
    return await transport.sendMail({ envelope: { from: '', to }, raw: raw.replace(/\r?\n/g, '\r\n') });
  } finally {
    transport.close();
  }
}

function dsn(opts: { to: string; recipient: string; action: string; status: string; id: string }) {
  return `From: Mail Delivery System <MAILER-DAEMON@mx.receiver.example>
To: ${opts.to}
Subject: Undelivered Mail Returned to Sender
Message-ID: <${opts.id}@mx.receiver.example>
Date: Wed, 02 Dec 2026 10:00:00 +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_b"

--=_b
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.receiver.example. Your message could not be delivered.

--=_b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.receiver.example
Arrival-Date: Wed, 02 Dec 2026 09:59:58 +0000

Final-Recipient: rfc822; ${opts.recipient}
Original-Recipient: rfc822;${opts.recipient}
Action: ${opts.action}
Status: ${opts.status}
Remote-MTA: dns; mailbox.receiver.example
Diagnostic-Code: smtp; 550 ${opts.status} <${opts.recipient}>: Recipient address
    rejected: User unknown in virtual mailbox table

--=_b
Content-Type: text/rfc822-headers

From: Shop <offers@shop.example>
To: ${opts.recipient}
Subject: Spring

--=_b--
`;
}

const suppression = async (email: string) =>
  (
    await h.db.sql<{ reason: string; source: string }[]>`
      select reason, source from suppressions where email_hash = ${emailHash(config.OFFERFLOW_SECRET, email)}`
  )[0];
const eventsOf = (customerId: number, kind: string) =>
  h.db.sql<{ message_id: number; data: Record<string, string> }[]>`
    select message_id, data from contact_events where customer_id = ${customerId} and kind = ${kind} order by id`;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 8, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({
    keepInMemory: true,
    rejectMessage: (_raw, session) => {
      const from = session.envelope.mailFrom;
      for (const r of session.envelope.rcptTo) envelopes.set(r.address, from ? from.address : '');
      return null;
    },
  });
  config = {
    ...h.deps.config,
    DATABASE_URL: h.db.url,
    SMTP_URL: sink.url,
    BOUNCE_DOMAIN,
    SOFT_BOUNCE_LIMIT: 2,
  };
  inbound = await startInboundServer(
    { sql: h.db.sql, config, logger: h.deps.logger, clock: () => new Date() },
    { port: 0, host: '127.0.0.1' },
  );
  workers = await startWorkers({
    config,
    roles: ['planner', 'sender', 'reconciler'],
    env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '500', SEND_CONCURRENCY: '4' },
    logger: h.deps.logger,
  });
  const { id } = await json(
    await h.post('/v1/campaigns', {
      name: 'Spring',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 1,
      from: { address: 'offers@shop.example', name: 'Shop' },
    }),
  );
  expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
  for (let i = 0; i < 300; i++) {
    if ((await json(await h.get(`/v1/campaigns/${id}`))).status === 'sent') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  sent = await h.db.sql<{ id: number; customer_id: number; email: string }[]>`
    select m.id, m.customer_id, c.email from messages m join customers c on c.id = m.customer_id
    where m.campaign_id = ${id} and m.status = 'sent' order by m.id`;
  expect(sent.length).toBe(shop.eligible.size);
  mails = await Promise.all(sink.messages.map((raw) => simpleParser(raw)));
});
afterAll(async () => {
  await workers?.close();
  await inbound?.close();
  await sink?.close();
  await h?.close();
});

const pick = (n: number) => sent[n]!;
const mailTo = (email: string) => mails.find((m) => (m.to as { text: string }).text === email)!;
/** A header as sent (mailparser turns List-Unsubscribe into an object). */
const rawHeader = (mail: ParsedMail, name: string) =>
  mail.headerLines
    .find((l) => l.key === name)!
    .line.replace(/^[^:]+:\s*/, '')
    .replace(/\r?\n\s+/g, ' ');

describe('the VERP return path and the mailto address', () => {
  it('sends each message with its own signed bounce address and a mailto on the bounce domain', () => {
    for (const m of sent) {
      const from = envelopes.get(m.email)!;
      expect(from).toBe(`bounce+${bounceToken(config.OFFERFLOW_SECRET, m.id)}@${BOUNCE_DOMAIN}`);
      expect(verifyBounceToken(config.OFFERFLOW_SECRET, from.slice(7, 39))).toBe(m.id);
      const list = rawHeader(mailTo(m.email), 'list-unsubscribe');
      expect(list).toMatch(new RegExp(`<mailto:unsubscribe@${BOUNCE_DOMAIN}\\?subject=unsubscribe-[\\w-]+>`));
    }
  });
});

describe('offerflow inbound', () => {
  it('suppresses a hard-bounced address from a DSN to its VERP address and records it', async () => {
    const target = pick(0);
    const to = envelopes.get(target.email)!;
    const info = await deliver(
      to,
      dsn({ to, recipient: target.email, action: 'failed', status: '5.1.1', id: 'd1' }),
    );
    expect(info.response).toMatch(/^250/);
    expect(await suppression(target.email)).toEqual({ reason: 'hard_bounce', source: 'dsn' });
    const events = await eventsOf(target.customer_id, 'bounced');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      message_id: target.id,
      data: { type: 'hard', status: '5.1.1', source: 'dsn' },
    });
    expect(events[0]!.data.reason).toContain('User unknown');
    // The same DSN delivered again changes nothing.
    await deliver(to, dsn({ to, recipient: target.email, action: 'failed', status: '5.1.1', id: 'd1' }));
    expect(await eventsOf(target.customer_id, 'bounced')).toHaveLength(1);
    // The contact history shows it.
    const timeline = await json(await h.get(`/v1/customers/${target.customer_id}/timeline?kinds=bounced`));
    expect(timeline.data.map((e: { kind: string }) => e.kind)).toEqual(['bounced']);
  });

  it('suppresses after SOFT_BOUNCE_LIMIT soft bounces, not before', async () => {
    const target = pick(1);
    const to = envelopes.get(target.email)!;
    await deliver(to, dsn({ to, recipient: target.email, action: 'delayed', status: '4.2.2', id: 's1' }));
    expect(await eventsOf(target.customer_id, 'bounced')).toHaveLength(1);
    expect(await suppression(target.email)).toBeUndefined();
    await deliver(to, dsn({ to, recipient: target.email, action: 'failed', status: '4.4.7', id: 's2' }));
    const events = await eventsOf(target.customer_id, 'bounced');
    expect(events.map((e) => e.data.type)).toEqual(['soft', 'soft']);
    expect(await suppression(target.email)).toEqual({ reason: 'soft_bounce', source: 'dsn' });
  });

  it('ignores an out-of-office reply to the return path', async () => {
    const target = pick(2);
    const to = envelopes.get(target.email)!;
    const info = await deliver(
      to,
      `From: ${target.email}\nTo: ${to}\nSubject: Out of Office: Spring\nAuto-Submitted: auto-replied\nX-Autoreply: yes\nMessage-ID: <ooo1@example.org>\n\nI am away until Monday. Status: 5.1.1 failed\n`,
    );
    expect(info.response).toMatch(/^250/);
    expect(await eventsOf(target.customer_id, 'bounced')).toHaveLength(0);
    expect(await suppression(target.email)).toBeUndefined();
  });

  it('refuses a forged or unknown return path at RCPT TO and changes nothing', async () => {
    const target = pick(2);
    const forged = `bounce+${'0'.repeat(32)}@${BOUNCE_DOMAIN}`;
    await expect(
      deliver(
        forged,
        dsn({ to: forged, recipient: target.email, action: 'failed', status: '5.1.1', id: 'f1' }),
      ),
    ).rejects.toMatchObject({ responseCode: 550 });
    await expect(deliver(`postmaster@${BOUNCE_DOMAIN}`, 'Subject: hi\n\nhello\n')).rejects.toMatchObject({
      responseCode: 550,
    });
    expect(await eventsOf(target.customer_id, 'bounced')).toHaveLength(0);
    expect(await suppression(target.email)).toBeUndefined();
  });

  it('unsubscribes on a mail to the advertised mailto address', async () => {
    const target = pick(3);
    const list = rawHeader(mailTo(target.email), 'list-unsubscribe');
    const mailto = new URL(/<(mailto:[^>]+)>/.exec(list)![1]!);
    const address = mailto.pathname;
    const subject = mailto.searchParams.get('subject')!;
    const info = await deliver(
      address,
      `From: ${target.email}\nTo: ${address}\nSubject: ${subject}\nMessage-ID: <u1@example.org>\n\nunsubscribe\n`,
    );
    expect(info.response).toMatch(/^250/);
    const consents = await json(await h.get(`/v1/customers/${target.customer_id}/consents`));
    expect(consents.current.marketing_email).toMatchObject({ granted: false, source: 'mailto' });
    const events = await eventsOf(target.customer_id, 'unsubscribed');
    expect(events).toEqual([expect.objectContaining({ message_id: target.id, data: { source: 'mailto' } })]);
    // A tampered token unsubscribes nobody.
    const other = pick(4);
    await deliver(
      address,
      `From: x@example.org\nTo: ${address}\nSubject: unsubscribe-${'A'.repeat(32)}\n\nx\n`,
    );
    expect(await eventsOf(other.customer_id, 'unsubscribed')).toHaveLength(0);
  });
});
