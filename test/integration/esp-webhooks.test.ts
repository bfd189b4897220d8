import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SnsEnvelope, snsStringToSign } from '../../src/inbound/webhooks/sns.js';
import { emailHash } from '../../src/messages/suppression.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Each ESP webhook through the whole HTTP stack with its real signature scheme: SES through
// SNS (RSA over the documented string, checked against a certificate made here, since this
// machine cannot fetch Amazon's), SendGrid (ECDSA P-256), Postmark (basic auth), Mailgun
// (HMAC-SHA256). A valid request is applied; a forged, stale or replayed one is a 401 and
// leaves the contact history and the suppression list exactly as they were.

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ses-feedback';
const CERT_URL = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem';
const MAILGUN_KEY = 'key-mailgun-signing-0123456789abcdef';
const POSTMARK = { user: 'postmark', password: 'a-long-postmark-password' };

let h: Harness;
let dir: string;
let snsKey: string;
let snsCert: string;
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const confirmed: string[] = [];
let customers: { id: number; email: string }[] = [];
let messageId: number;

beforeAll(async () => {
  // A self-signed certificate for the SNS key pair (openssl ships with PostgreSQL's ssl-cert).
  dir = mkdtempSync(join(tmpdir(), 'offerflow-sns-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=sns.amazonaws.com',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  snsKey = readFileSync(join(dir, 'key.pem'), 'utf8');
  snsCert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const config = {
    ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
    SES_SNS_TOPIC_ARNS: `arn:aws:sns:us-east-1:1:other, ${TOPIC}`,
    SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKey
      .export({ type: 'spki', format: 'der' })
      .toString('base64'),
    POSTMARK_WEBHOOK_USER: POSTMARK.user,
    POSTMARK_WEBHOOK_PASSWORD: POSTMARK.password,
    MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
  };
  h = await createHarness({
    config,
    sns: {
      certificate: async (url) => {
        if (url !== CERT_URL) throw new Error('unexpected certificate URL');
        return snsCert;
      },
      confirmSubscription: async (url) => {
        confirmed.push(url);
      },
    },
  });
  customers = await h.db.sql<{ id: number; email: string }[]>`
    insert into customers ${h.db.sql(
      Array.from({ length: 10 }, (_, i) => ({ external_id: `w${i}`, email: `w${i}@example.org` })),
    )} returning id, email`;
  const [m] = await h.db.sql<{ id: number }[]>`
    insert into messages (customer_id, status, smtp_message_id, sent_at)
    values (${customers[9]!.id}, 'sent', '<m1.c1@shop.example>', now()) returning id`;
  messageId = m!.id;
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await h?.close();
});

const suppressed = async (email: string) =>
  (
    await h.db.sql<{ reason: string }[]>`
      select reason from suppressions where email_hash = ${emailHash(h.deps.config.OFFERFLOW_SECRET, email)}`
  )[0]?.reason;
const state = async () =>
  (
    await h.db.sql<{ events: number; suppressions: number }[]>`
      select (select count(*)::int from contact_events) as events, (select count(*)::int from suppressions) as suppressions`
  )[0];
const eventsOf = (customerId: number) =>
  h.db.sql<{ kind: string; message_id: number | null; data: Record<string, string> }[]>`
    select kind, message_id, data from contact_events where customer_id = ${customerId} order by id`;

/** Posts and expects a 401 problem that changed nothing. */
async function refusedUnchanged(path: string, body: string, headers: Record<string, string> = {}) {
  const before = await state();
  const res = await h.request('POST', path, {
    role: null,
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  expect(res.status, await res.clone().text()).toBe(401);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(await state()).toEqual(before);
  return json(res);
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  h.request('POST', path, { role: null, body, headers: { 'content-type': 'application/json', ...headers } });

function snsMessage(over: Partial<SnsEnvelope>, message: unknown, key = snsKey): string {
  const envelope: SnsEnvelope = {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: TOPIC,
    Message: JSON.stringify(message),
    Timestamp: new Date().toISOString(),
    SignatureVersion: '2',
    Signature: '',
    SigningCertURL: CERT_URL,
    UnsubscribeURL: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
    ...over,
  };
  const algorithm = envelope.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
  envelope.Signature = createSign(algorithm).update(snsStringToSign(envelope)!).sign(key, 'base64');
  return JSON.stringify(envelope);
}

describe('Amazon SES through SNS', () => {
  const bounce = (email: string, bounceType = 'Permanent') => ({
    notificationType: 'Bounce',
    bounce: {
      bounceType,
      bounceSubType: 'General',
      bouncedRecipients: [
        {
          emailAddress: email,
          action: 'failed',
          status: '5.1.1',
          diagnosticCode: 'smtp; 550 5.1.1 user unknown',
        },
      ],
      timestamp: new Date().toISOString(),
      feedbackId: randomUUID(),
    },
    mail: { messageId: randomUUID(), source: 'offers@shop.example', destination: [email] },
  });

  it('applies a signed bounce notification: the address is suppressed and the bounce recorded', async () => {
    const c = customers[0]!;
    const res = await post('/webhooks/ses', snsMessage({}, bounce(c.email)), {
      'x-amz-sns-message-type': 'Notification',
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({ provider: 'ses', applied: 1 });
    expect(await suppressed(c.email)).toBe('hard_bounce');
    expect(await eventsOf(c.id)).toEqual([
      expect.objectContaining({
        kind: 'bounced',
        data: expect.objectContaining({ type: 'hard', source: 'ses', status: '5.1.1' }),
      }),
    ]);
  });

  it('maps complaints and deliveries, naming the message by the headers SES reports', async () => {
    const c = customers[9]!;
    const mail = {
      messageId: 'ses-id',
      headers: [{ name: 'X-Offerflow-Message', value: String(messageId) }],
      commonHeaders: { messageId: '<m1.c1@shop.example>' },
    };
    const delivered = {
      notificationType: 'Delivery',
      delivery: { recipients: [c.email], smtpResponse: '250 ok', timestamp: new Date().toISOString() },
      mail,
    };
    expect((await post('/webhooks/ses', snsMessage({ SignatureVersion: '1' }, delivered))).status).toBe(200);
    const complaint = {
      notificationType: 'Complaint',
      complaint: { complainedRecipients: [{ emailAddress: c.email }], complaintFeedbackType: 'abuse' },
      mail,
    };
    expect((await post('/webhooks/ses', snsMessage({}, complaint))).status).toBe(200);
    expect((await eventsOf(c.id)).map((e) => [e.kind, e.message_id])).toEqual([
      ['delivered', messageId],
      ['complained', messageId],
    ]);
    expect(await suppressed(c.email)).toBe('complaint');
  });

  it('confirms a signed subscription to an allowed topic', async () => {
    const subscribe = 'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t';
    const body = snsMessage(
      { Type: 'SubscriptionConfirmation', SubscribeURL: subscribe, Token: 't', UnsubscribeURL: undefined },
      'confirm',
    );
    expect((await post('/webhooks/ses', body)).status).toBe(200);
    expect(confirmed).toEqual([subscribe]);
  });

  it('refuses a forged, re-signed, foreign, stale or replayed message with 401 and changes nothing', async () => {
    const c = customers[1]!;
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    // Signed with a key that is not the certificate's.
    await refusedUnchanged('/webhooks/ses', snsMessage({}, bounce(c.email), other));
    // A valid message whose content was changed afterwards.
    const tampered = JSON.parse(snsMessage({}, bounce('someone@example.org')));
    tampered.Message = JSON.stringify(bounce(c.email));
    await refusedUnchanged('/webhooks/ses', JSON.stringify(tampered));
    // A certificate URL that is not an SNS host, even with a valid signature.
    await refusedUnchanged(
      '/webhooks/ses',
      snsMessage({ SigningCertURL: 'https://evil.example/sns.amazonaws.com.pem' }, bounce(c.email)),
    );
    await refusedUnchanged(
      '/webhooks/ses',
      snsMessage({ SigningCertURL: 'http://sns.eu-west-1.amazonaws.com/c.pem' }, bounce(c.email)),
    );
    // Another topic.
    await refusedUnchanged(
      '/webhooks/ses',
      snsMessage({ TopicArn: 'arn:aws:sns:eu-west-1:999:not-ours' }, bounce(c.email)),
    );
    // Old.
    await refusedUnchanged(
      '/webhooks/ses',
      snsMessage({ Timestamp: new Date(Date.now() - 2 * 3600_000).toISOString() }, bounce(c.email)),
    );
    // Replayed.
    const once = snsMessage({}, bounce(c.email, 'Transient'));
    expect((await post('/webhooks/ses', once)).status).toBe(200);
    await refusedUnchanged('/webhooks/ses', once);
    expect(await suppressed(c.email)).toBeUndefined();
    expect((await eventsOf(c.id)).map((e) => e.data.type)).toEqual(['soft']);
  });
});

describe('SendGrid', () => {
  const sign = (timestamp: string, body: string, key = sendgrid.privateKey) =>
    createSign('sha256')
      .update(timestamp + body)
      .sign(key, 'base64');
  const headers = (timestamp: string, signature: string) => ({
    'x-twilio-email-event-webhook-timestamp': timestamp,
    'x-twilio-email-event-webhook-signature': signature,
  });
  const now = () => String(Math.floor(Date.now() / 1000));

  it('applies a signed batch: bounce, spam report, delivery; other events are ignored', async () => {
    const [a, b] = [customers[2]!, customers[3]!];
    const body = JSON.stringify([
      {
        email: a.email,
        event: 'bounce',
        type: 'bounce',
        status: '5.1.1',
        reason: '550 unknown',
        sg_event_id: 'e1',
        timestamp: 1_700_000_000,
      },
      { email: b.email, event: 'delivered', response: '250 ok', sg_event_id: 'e2', timestamp: 1_700_000_000 },
      { email: b.email, event: 'open', sg_event_id: 'e3', timestamp: 1_700_000_000 },
      { email: b.email, event: 'spamreport', sg_event_id: 'e4', timestamp: 1_700_000_001 },
    ]);
    const ts = now();
    const res = await post('/webhooks/sendgrid', body, headers(ts, sign(ts, body)));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await json(res)).toMatchObject({ applied: 3 });
    expect(await suppressed(a.email)).toBe('hard_bounce');
    expect(await suppressed(b.email)).toBe('complaint');
    expect((await eventsOf(b.id)).map((e) => e.kind)).toEqual(['delivered', 'complained']);
  });

  it('refuses a bad signature, another key, a stale timestamp or a replay with 401', async () => {
    const c = customers[4]!;
    const body = JSON.stringify([{ email: c.email, event: 'bounce', type: 'bounce', sg_event_id: 'x1' }]);
    const ts = now();
    const good = sign(ts, body);
    await refusedUnchanged('/webhooks/sendgrid', body.replace('bounce', 'bounce '), headers(ts, good));
    await refusedUnchanged('/webhooks/sendgrid', body, headers(String(Number(ts) + 1), good));
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await refusedUnchanged('/webhooks/sendgrid', body, headers(ts, sign(ts, body, other)));
    await refusedUnchanged('/webhooks/sendgrid', body, {});
    const old = String(Number(ts) - 3600);
    await refusedUnchanged('/webhooks/sendgrid', body, headers(old, sign(old, body)));
    expect((await post('/webhooks/sendgrid', body, headers(ts, good))).status).toBe(200);
    await refusedUnchanged('/webhooks/sendgrid', body, headers(ts, good));
    expect(await eventsOf(c.id)).toHaveLength(1);
  });
});

describe('Postmark', () => {
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  it('applies a bounce and a spam complaint behind basic auth', async () => {
    const [a, b] = [customers[5]!, customers[6]!];
    const auth = basic(POSTMARK.user, POSTMARK.password);
    const hard = {
      RecordType: 'Bounce',
      ID: 42,
      Type: 'HardBounce',
      TypeCode: 1,
      MessageID: randomUUID(),
      Email: a.email,
      Details: 'unknown user',
      BouncedAt: new Date().toISOString(),
    };
    expect((await post('/webhooks/postmark', JSON.stringify(hard), auth)).status).toBe(200);
    const spam = {
      RecordType: 'SpamComplaint',
      ID: 43,
      Type: 'SpamComplaint',
      MessageID: randomUUID(),
      Email: b.email,
      BouncedAt: new Date().toISOString(),
    };
    expect((await post('/webhooks/postmark', JSON.stringify(spam), auth)).status).toBe(200);
    const auto = {
      RecordType: 'Bounce',
      ID: 44,
      Type: 'AutoResponder',
      MessageID: randomUUID(),
      Email: b.email,
    };
    expect(await json(await post('/webhooks/postmark', JSON.stringify(auto), auth))).toMatchObject({
      applied: 0,
    });
    expect(await suppressed(a.email)).toBe('hard_bounce');
    expect(await suppressed(b.email)).toBe('complaint');
  });

  it('refuses wrong or missing credentials and a replayed event with 401', async () => {
    const c = customers[7]!;
    const body = JSON.stringify({
      RecordType: 'Bounce',
      ID: 50,
      Type: 'HardBounce',
      MessageID: randomUUID(),
      Email: c.email,
    });
    await refusedUnchanged('/webhooks/postmark', body, basic(POSTMARK.user, 'wrong-password-0123456'));
    await refusedUnchanged('/webhooks/postmark', body, basic('someone', POSTMARK.password));
    await refusedUnchanged('/webhooks/postmark', body);
    expect((await post('/webhooks/postmark', body, basic(POSTMARK.user, POSTMARK.password))).status).toBe(
      200,
    );
    await refusedUnchanged('/webhooks/postmark', body, basic(POSTMARK.user, POSTMARK.password));
  });
});

describe('Mailgun', () => {
  const signed = (
    eventData: Record<string, unknown>,
    over: { timestamp?: string; token?: string; key?: string } = {},
  ) => {
    const timestamp = over.timestamp ?? String(Math.floor(Date.now() / 1000));
    const token = over.token ?? randomUUID().replace(/-/g, '');
    const signature = createHmac('sha256', over.key ?? MAILGUN_KEY)
      .update(timestamp + token)
      .digest('hex');
    return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
  };
  const failed = (email: string, severity: string) => ({
    id: randomUUID(),
    event: 'failed',
    severity,
    recipient: email,
    timestamp: Date.now() / 1000,
    'delivery-status': { code: 550, message: '5.1.1 unknown', description: 'No such user' },
    message: { headers: { 'message-id': 'm1.c1@shop.example' } },
  });

  it('applies a signed permanent failure, naming the message by its Message-ID', async () => {
    const c = customers[9]!;
    const res = await post('/webhooks/mailgun', signed(failed(c.email, 'permanent')));
    expect(res.status, await res.clone().text()).toBe(200);
    const events = await eventsOf(c.id);
    expect(events.at(-1)).toMatchObject({
      kind: 'bounced',
      message_id: messageId,
      data: { type: 'hard', source: 'mailgun' },
    });
  });

  it('refuses a bad HMAC, a stale timestamp or a reused token with 401', async () => {
    const c = customers[8]!;
    await refusedUnchanged('/webhooks/mailgun', signed(failed(c.email, 'permanent'), { key: 'not-the-key' }));
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    await refusedUnchanged('/webhooks/mailgun', signed(failed(c.email, 'permanent'), { timestamp: old }));
    const once = signed(failed(c.email, 'temporary'), { token: 'a'.repeat(50) });
    expect((await post('/webhooks/mailgun', once)).status).toBe(200);
    await refusedUnchanged('/webhooks/mailgun', once);
    // The same token with another, validly signed event is still a replay.
    await refusedUnchanged(
      '/webhooks/mailgun',
      signed(failed(c.email, 'permanent'), { token: 'a'.repeat(50) }),
    );
    expect(await suppressed(c.email)).toBeUndefined();
  });
});
