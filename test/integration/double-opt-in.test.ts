import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { loadConfig } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { messageLinks } from '../../src/tracking/links.js';
import { verifyDkim } from '../helpers/dkim.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

// MARKETING_LEGAL_BASIS=double_opt_in through HTTP and real SMTP: a grant mails a signed link
// (sent by the sender workers to an SMTP sink, read back with mailparser), and marketing
// consent appears on the ledger, with its proof, only when that link is confirmed. The link
// comes from the default sender identity, DKIM-signed like campaign mail; a CSV import's
// marketing "yes" takes the same path.

let h: Harness;
let sink: SmtpSink;
let workers: RunningWorkers;
/** The default sender's DNS records (name → TXT value), as the verifier's DNS. */
let records: Record<string, string>;

beforeAll(async () => {
  const config = {
    ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
    MARKETING_LEGAL_BASIS: 'double_opt_in' as const,
  };
  h = await createHarness({ config });
  sink = await startSmtpSink({ keepInMemory: true });
  workers = await startWorkers({
    config: { ...config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['sender', 'import'],
    env: { QUEUE_PREFIX: h.queuePrefix, OPT_IN_POLL_MS: '100' },
    logger: h.deps.logger,
  });
  const sender = await h.post('/v1/senders', {
    from_address: 'hello@shop.example',
    from_name: 'La Boutique',
    reply_to: 'service@shop.example',
    dkim_domain: 'shop.example',
    dkim_selector: 'optin',
  });
  expect(sender.status).toBe(201);
  records = Object.fromEntries(
    (await json(sender)).dns_records.map((r: { name: string; value: string }) => [
      r.name.toLowerCase(),
      r.value,
    ]),
  );
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

async function rawMailsTo(email: string): Promise<{ raw: Buffer; mail: ParsedMail }[]> {
  const all = await Promise.all(sink.messages.map(async (raw) => ({ raw, mail: await simpleParser(raw) })));
  return all.filter(({ mail }) => (mail.to as { text: string }).text === email);
}
const mailsTo = async (email: string): Promise<ParsedMail[]> =>
  (await rawMailsTo(email)).map(({ mail }) => mail);
const confirmationLink = async (email: string) => {
  const [mail] = await until(async () => {
    const mails = await mailsTo(email);
    return mails.length > 0 && mails;
  });
  const url = /https?:\/\/\S+\/opt-in\/[\w.-]+/.exec(mail!.text ?? '')![0];
  return new URL(url).pathname;
};
const marketing = async (id: number) =>
  (await json(await h.get(`/v1/customers/${id}/consents`))).current.marketing_email;

describe('double opt-in', () => {
  it('grants marketing consent only when the mailed link is confirmed, with the proof on the ledger', async () => {
    const created = await json(
      await h.post('/v1/customers', {
        external_id: 'd1',
        email: 'd1@example.org',
        consents: { marketing_email: true },
      }),
    );
    expect(await marketing(created.id)).toBeUndefined();
    const path = await confirmationLink('d1@example.org');
    // Opening the link (or a scanner fetching it) asks; it does not confirm.
    const page = await h.request('GET', path, { role: null });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('method="post"');
    expect(await marketing(created.id)).toBeUndefined();
    const done = await h.request('POST', path, {
      role: null,
      peer: '203.0.113.7',
      headers: { 'user-agent': 'Test' },
    });
    expect(done.status).toBe(200);
    const consents = await json(await h.get(`/v1/customers/${created.id}/consents`));
    expect(consents.current.marketing_email).toMatchObject({
      granted: true,
      source: 'double_opt_in:customer_upsert',
    });
    expect(consents.data[0]).toMatchObject({ purpose: 'marketing_email', ip: '203.0.113.7' });
    // Confirming again changes nothing.
    expect((await h.request('POST', path, { role: null })).status).toBe(200);
    expect((await json(await h.get(`/v1/customers/${created.id}/consents`))).data).toHaveLength(1);
  });

  it('mails the confirmation from the default sender identity, DKIM-signed over its headers', async () => {
    await h.post('/v1/customers', {
      external_id: 'd4',
      email: 'd4@example.org',
      consents: { marketing_email: true },
    });
    await confirmationLink('d4@example.org');
    const [{ raw, mail }] = (await rawMailsTo('d4@example.org')) as [{ raw: Buffer; mail: ParsedMail }];
    expect(mail.from?.value).toEqual([{ address: 'hello@shop.example', name: 'La Boutique' }]);
    expect(mail.replyTo?.value[0]?.address).toBe('service@shop.example');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.messageId).toMatch(/@shop\.example>$/);
    // Nothing to unsubscribe from: the address is not on any list yet.
    expect(mail.headers.has('list-unsubscribe')).toBe(false);
    const [result, ...more] = await verifyDkim(raw, records);
    expect(more).toHaveLength(0);
    expect(result!.status.result, result!.status.comment).toBe('pass');
    expect(result!).toMatchObject({ signingDomain: 'shop.example', selector: 'optin' });
    expect(result!.status.aligned).toBe('shop.example');
    const signed = result!.signingHeaders.keys.toLowerCase().split(': ').join(':').split(':');
    for (const name of ['from', 'reply-to', 'to', 'subject', 'date', 'message-id', 'auto-submitted'])
      expect(signed, name).toContain(name);
    // A copy with another link no longer verifies (the body hash is signed).
    const forged = Buffer.from(raw.toString('latin1').replace(/\/opt-in\//g, '/opt-ln/'), 'latin1');
    expect(forged.equals(raw)).toBe(false);
    expect((await verifyDkim(forged, records))[0]!.status.result).not.toBe('pass');
  });

  it('answers 202 to a consent grant and records the text version on confirmation', async () => {
    const { id } = await json(await h.post('/v1/customers', { external_id: 'd2', email: 'd2@example.org' }));
    const res = await h.post(`/v1/customers/${id}/consents`, {
      purpose: 'marketing_email',
      granted: true,
      source: 'signup_form',
      text_version: '2026-01',
    });
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ status: 'confirmation_pending' });
    expect(await marketing(id)).toBeUndefined();
    // Asking again while the first link is open sends no second mail.
    await h.post(`/v1/customers/${id}/consents`, {
      purpose: 'marketing_email',
      granted: true,
      source: 'signup_form',
    });
    const path = await confirmationLink('d2@example.org');
    expect((await h.request('POST', path, { role: null, peer: '198.51.100.1' })).status).toBe(200);
    const row = (await json(await h.get(`/v1/customers/${id}/consents`))).data[0];
    expect(row).toMatchObject({
      granted: true,
      text_version: '2026-01',
      ip: '198.51.100.1',
      source: 'double_opt_in:signup_form',
    });
    expect(await mailsTo('d2@example.org')).toHaveLength(1);
    // Withdrawing needs no confirmation.
    expect(
      (
        await h.post(`/v1/customers/${id}/consents`, {
          purpose: 'marketing_email',
          granted: false,
          source: 'x',
        })
      ).status,
    ).toBe(201);
  });

  it('refuses a forged or expired link', async () => {
    const { id } = await json(
      await h.post('/v1/customers', {
        external_id: 'd3',
        email: 'd3@example.org',
        consents: { marketing_email: true },
      }),
    );
    const path = await confirmationLink('d3@example.org');
    const [requestId, mac] = path.split('/').pop()!.split('.');
    expect((await h.request('POST', `/opt-in/${Number(requestId) + 1}.${mac}`, { role: null })).status).toBe(
      404,
    );
    await h.db
      .sql`update opt_in_requests set expires_at = now() - interval '1 minute' where id = ${Number(requestId)}`;
    expect((await h.request('POST', path, { role: null })).status).toBe(410);
    expect(await marketing(id)).toBeUndefined();
  });
});

describe('a customers CSV import', () => {
  /** Uploads a customers CSV and waits for the import worker to finish it. */
  async function importCsv(csv: string) {
    const res = await h.post('/v1/imports?kind=customers&filename=crm.csv', csv, {
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(202);
    const { id } = await json(res);
    return until(async () => {
      const state = await json(await h.get(`/v1/imports/${id}`));
      return ['done', 'failed'].includes(state.status) && state;
    });
  }
  const customerId = async (externalId: string) =>
    (await h.db.sql<{ id: number }[]>`select id from customers where external_id = ${externalId}`)[0]!.id;

  it('starts the double opt-in for a marketing yes: no consent until the mailed link is confirmed', async () => {
    const state = await importCsv(
      'Customer ID,Email,Accepts Email Marketing\ni1,i1@example.org,yes\ni2,i2@example.org,no\ni3,i3@example.org,perhaps\n',
    );
    expect(state).toMatchObject({ status: 'done', rows_done: 3, rows_created: 2, rows_failed: 1 });
    const report = await (await h.get(`/v1/imports/${state.id}/errors.csv`)).text();
    expect(report).toContain('4,consents.marketing_email,"must be yes or no');
    const yes = await customerId('i1');
    expect(await marketing(yes)).toBeUndefined();
    // A no needs no confirmation: it is recorded at once, with the import as its source.
    expect(await marketing(await customerId('i2'))).toMatchObject({
      granted: false,
      source: `import:${state.id}`,
    });
    const path = await confirmationLink('i1@example.org');
    expect(await mailsTo('i2@example.org')).toHaveLength(0);
    expect((await h.request('POST', path, { role: null, peer: '192.0.2.44' })).status).toBe(200);
    const consents = await json(await h.get(`/v1/customers/${yes}/consents`));
    expect(consents.data).toHaveLength(1);
    expect(consents.data[0]).toMatchObject({
      purpose: 'marketing_email',
      granted: true,
      ip: '192.0.2.44',
      source: `double_opt_in:import:${state.id}`,
    });
    // Importing the same file again mails nobody twice and changes no consent.
    const again = await importCsv('Customer ID,Email,Accepts Email Marketing\ni1,i1@example.org,yes\n');
    expect(again).toMatchObject({ status: 'done', rows_done: 1, rows_failed: 0 });
    expect((await json(await h.get(`/v1/customers/${yes}/consents`))).data).toHaveLength(1);
    const requests = await h.db.sql`select id from opt_in_requests where customer_id = ${yes}`;
    expect(requests).toHaveLength(1);
  });
});

describe('the preference page', () => {
  async function unsubscribedRecipient(external: string, sentDaysAgo: number) {
    const [c] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email) values (${external}, ${`${external}@example.org`}) returning id`;
    await h.db
      .sql`insert into consents (customer_id, purpose, granted, source) values (${c!.id}, 'marketing_email', false, 'test')`;
    const [m] = await h.db.sql<{ id: number }[]>`
      insert into messages (customer_id, status, sent_at) values (${c!.id}, 'sent', now() - make_interval(days => ${sentDaysAgo}))
      returning id`;
    const links = messageLinks(h.deps.config.PUBLIC_URL, h.deps.config.OFFERFLOW_SECRET, m!.id);
    return { id: c!.id, email: `${external}@example.org`, links };
  }

  it('cannot turn marketing back on from an old mail: it mails a confirmation instead', async () => {
    const r = await unsubscribedRecipient('p1', 3);
    const path = new URL(r.links.preferencesUrl).pathname;
    const res = await h.request('POST', path, {
      role: null,
      body: new URLSearchParams({ subscribed: 'on' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('confirm it from the link we just mailed you');
    expect(await marketing(r.id)).toMatchObject({ granted: false });
    const link = await confirmationLink(r.email);
    expect((await h.request('POST', link, { role: null })).status).toBe(200);
    expect(await marketing(r.id)).toMatchObject({ granted: true, source: 'double_opt_in:preference_page' });
  });

  it('expires after PREFERENCE_LINK_DAYS while one-click unsubscribe keeps working', async () => {
    const r = await unsubscribedRecipient('p2', h.deps.config.PREFERENCE_LINK_DAYS + 1);
    await h.db.sql`delete from consents where customer_id = ${r.id}`;
    await h.db
      .sql`insert into consents (customer_id, purpose, granted, source) values (${r.id}, 'marketing_email', true, 'test')`;
    const path = new URL(r.links.preferencesUrl).pathname;
    expect((await h.request('GET', path, { role: null })).status).toBe(410);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const saved = await h.request('POST', path, { role: null, body: 'topic=x', headers: form });
    expect(saved.status).toBe(410);
    expect(await marketing(r.id)).toMatchObject({ granted: true });
    const oneClick = await h.request('POST', new URL(r.links.oneClickUrl).pathname, {
      role: null,
      body: 'List-Unsubscribe=One-Click',
      headers: form,
    });
    expect(oneClick.status).toBe(200);
    expect(await marketing(r.id)).toMatchObject({ granted: false, source: 'one_click' });
  });
});
