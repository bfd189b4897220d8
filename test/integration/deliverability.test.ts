import { type ParsedMail, simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { loadConfig } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { verifyDkim } from '../helpers/dkim.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';
import { until } from '../helpers/until.js';

// What receivers check, through the real sender, SMTP and a real DKIM verifier (mailauth):
// sender identities, signatures over both list headers, the headers bulk-sender rules expect.

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers;
let sender: any;
let records: Record<string, string>;

beforeAll(async () => {
  sink = await startSmtpSink({ keepInMemory: true });
  h = await createHarness({
    config: loadConfig({ ...process.env, LOG_LEVEL: 'silent', SMTP_URL: sink.url }),
  });
  shop = await seedCampaignShop(h.db.sql, 12, h.deps.config.OFFERFLOW_SECRET);
  workers = await startWorkers({
    config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
    roles: ['planner', 'sender', 'reconciler', 'trigger'],
    env: {
      QUEUE_PREFIX: h.queuePrefix,
      RECONCILE_INTERVAL_MS: '300',
      SEND_CONCURRENCY: '5',
      WORKER_LOCK_MS: '5000',
    },
    logger: h.deps.logger,
  });
  const res = await h.post('/v1/senders', {
    from_address: 'offers@news.shop.example',
    from_name: 'La Boutique',
    reply_to: 'service@shop.example',
    dkim_domain: 'shop.example',
    dkim_selector: 's2026',
  });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  sender = await json(res);
  records = Object.fromEntries(
    sender.dns_records.map((r: { name: string; value: string }) => [r.name.toLowerCase(), r.value]),
  );
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const mailsTo = async (address: string): Promise<Array<{ mail: ParsedMail; raw: Buffer }>> => {
  const all = await Promise.all(sink.messages.map(async (raw) => ({ raw, mail: await simpleParser(raw) })));
  return all.filter(({ mail }) => (mail.to as { text: string } | undefined)?.text === address);
};

/** A header's raw value, unfolded. */
const headerOf = (mail: ParsedMail, key: string) =>
  mail.headerLines
    .find((l) => l.key === key)
    ?.line.replace(/\r?\n\s*/g, ' ')
    .replace(/^[^:]+:\s*/, '');

/** The signature verifies against the published key and covers the headers RFC 8058 needs. */
async function expectSigned(raw: Buffer) {
  const [result, ...more] = await verifyDkim(raw, records);
  expect(more).toHaveLength(0);
  expect(result!.status.result, result!.status.comment).toBe('pass');
  expect(result!.signingDomain).toBe('shop.example');
  expect(result!.selector).toBe('s2026');
  const signed = result!.signingHeaders.keys.toLowerCase().split(': ').join(':').split(':');
  for (const name of [
    'from',
    'to',
    'subject',
    'date',
    'message-id',
    'mime-version',
    'content-type',
    'list-unsubscribe',
    'list-unsubscribe-post',
    'list-id',
    'feedback-id',
  ])
    expect(signed, name).toContain(name);
  // Tampering with a signed list header breaks the signature.
  const text = raw.toString('latin1');
  const forged = Buffer.from(
    text.replace(/List-Unsubscribe:\s*<[^>]+>/, 'List-Unsubscribe: <https://evil.example/u>'),
    'latin1',
  );
  expect(forged.toString('latin1')).not.toBe(text);
  expect((await verifyDkim(forged, records))[0]!.status.result).toBe('fail');
}

describe('sender identities', () => {
  it('stores the key encrypted and never returns it; publishes the SPF, DKIM and DMARC records', async () => {
    expect(JSON.stringify(sender)).not.toContain('PRIVATE KEY');
    expect(sender).toMatchObject({ is_default: true, dkim_key_set: true, reply_to: 'service@shop.example' });
    expect(sender.dns_records.map((r: { purpose: string }) => r.purpose)).toEqual(['spf', 'dkim', 'dmarc']);
    expect(records['s2026._domainkey.shop.example']).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    expect(records['_dmarc.shop.example']).toMatch(/^v=DMARC1; p=none/);
    const [row] = await h.db.sql<
      { sealed: string }[]
    >`select dkim_private_key_encrypted as sealed from senders where id = ${sender.id}`;
    expect(row!.sealed).toMatch(/^v1\./);
    expect(row!.sealed).not.toContain('PRIVATE');
    const listed = await json(await h.get('/v1/senders'));
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed.data.map((s: { id: number }) => s.id)).toContain(sender.id);
  });

  it('refuses a From domain not aligned with the DKIM domain, naming the field, and writes nothing', async () => {
    const before = (await h.db.sql`select count(*)::int as n from senders`)[0]!.n;
    const res = await h.post('/v1/senders', {
      from_address: 'offers@other.example',
      dkim_domain: 'shop.example',
    });
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.errors.map((e: { path: string }) => e.path)).toContain('dkim_domain');
    expect((await h.db.sql`select count(*)::int as n from senders`)[0]!.n).toBe(before);
    const patch = await h.patch(`/v1/senders/${sender.id}`, { from_address: 'offers@elsewhere.example' });
    expect(patch.status).toBe(422);
    expect((await json(await h.get(`/v1/senders/${sender.id}`))).from_address).toBe(
      'offers@news.shop.example',
    );
    const badKey = await h.post('/v1/senders', {
      from_address: 'a@shop.example',
      dkim_domain: 'shop.example',
      dkim_private_key: 'nope',
    });
    expect(badKey.status).toBe(422);
    expect((await json(badKey)).errors[0].path).toBe('dkim_private_key');
    expect((await h.post('/v1/senders', { from_address: 'not an address' })).status).toBe(422);
    expect(
      (await h.post('/v1/senders', { from_address: 'a@shop.example' }, { role: 'analyst' })).status,
    ).toBe(403);
  });

  it('one default at a time; campaigns and triggers naming no such sender are refused', async () => {
    const second = await json(
      await h.post('/v1/senders', { from_address: 'hello@shop.example', is_default: true }),
    );
    expect(second.is_default).toBe(true);
    expect((await json(await h.get(`/v1/senders/${sender.id}`))).is_default).toBe(false);
    expect((await json(await h.patch(`/v1/senders/${sender.id}`, { is_default: true }))).is_default).toBe(
      true,
    );
    expect((await json(await h.get(`/v1/senders/${second.id}`))).is_default).toBe(false);
    const res = await h.post('/v1/campaigns', { name: 'x', sender_id: 999_999 });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].path).toBe('sender_id');
  });
});

describe('mail as receivers see it', () => {
  it('a campaign mail is signed over both list headers and carries List-Id, Feedback-ID, Reply-To, lang', async () => {
    const res = await h.post('/v1/campaigns', {
      name: 'Internal name: spring push',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 1,
      sender_id: sender.id,
    });
    const { id } = await json(res);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    await until(async () => (await json(await h.get(`/v1/campaigns/${id}`))).status === 'sent');
    const [row] = await h.db.sql<{ id: number; customer_id: number; smtp_message_id: string }[]>`
      select id, customer_id, smtp_message_id from messages where campaign_id = ${id} and status = 'sent' order by id limit 1`;
    const who = shop.eligible.get(row!.customer_id)!;
    const { mail, raw } = (await mailsTo(who.email))[0]!;
    await expectSigned(raw);
    const [install] = await h.db.sql<{ id: string }[]>`select id from installation`;
    expect(mail.messageId).toBe(`<m${row!.id}.c${id}.${install!.id}@news.shop.example>`);
    expect(row!.smtp_message_id).toBe(mail.messageId);
    expect(mail.from?.value[0]).toMatchObject({ address: 'offers@news.shop.example', name: 'La Boutique' });
    expect(mail.replyTo?.value[0]?.address).toBe('service@shop.example');
    expect(headerOf(mail, 'list-id')).toBe(`<c${id}.${install!.id}.news.shop.example>`);
    expect(mail.headers.get('feedback-id')).toBe(`c${id}:campaign:s${sender.id}`);
    expect(mail.headers.get('auto-submitted')).toBeUndefined();
    expect(mail.html).not.toContain('Internal name');
    expect(mail.html).toMatch(/<html[^>]* lang="(en|fr)"/);

    // "View in browser": the hosted web version at a signed URL, without the open pixel.
    const web = /href="(http:\/\/[^"]+\/w\/([\w-]+))"/.exec(mail.html as string);
    expect(web, 'view-in-browser link').not.toBeNull();
    const page = await h.get(new URL(web![1]!).pathname, { role: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const hosted = await page.text();
    expect(hosted).toContain(who.first_name);
    expect(hosted).not.toContain('/t/o/');
    const token = web![2]!;
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await h.get(`/w/${forged}`, { role: null })).status).toBe(404);
    // An unsubscribe token is not a web-version token.
    const unsubscribe = /\/u\/([\w-]{32})/.exec(mail.html as string)![1];
    expect((await h.get(`/w/${unsubscribe}`, { role: null })).status).toBe(404);
  });

  it('an automated mail comes from its sender identity, aligned and signed, marked auto-generated', async () => {
    const [t] = await h.db.sql<
      { id: number }[]
    >`select id from templates where name ilike '%post-purchase%' limit 1`;
    const trig = await h.post('/v1/triggers', {
      name: 'Thanks',
      event: 'purchase',
      template_id: t!.id,
      sender_id: sender.id,
    });
    expect(trig.status, JSON.stringify(await trig.clone().json())).toBe(201);
    const triggerId = (await json(trig)).id;
    const [buyer] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, email, first_name, locale)
      values ('auto-1', 'auto1@example.org', 'Ada', 'de-DE') returning id`;
    await h.db
      .sql`insert into consents (customer_id, purpose, granted, source) values (${buyer!.id}, 'marketing_email', true, 'test')`;
    const line = {
      external_line_id: 'auto-l1',
      customer_id: buyer!.id,
      order_ref: 'A-1',
      amount: 30,
      purchased_at: new Date().toISOString(),
    };
    expect((await h.post('/v1/purchases', line)).status).toBe(201);
    const { mail, raw } = await until(async () => (await mailsTo('auto1@example.org'))[0]);
    await expectSigned(raw);
    expect(mail.from?.value[0]?.address).toBe('offers@news.shop.example');
    expect(mail.from?.text).not.toContain('no-reply');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('feedback-id')).toBe(`t${triggerId}:automated:s${sender.id}`);
    expect(headerOf(mail, 'list-id')).toMatch(new RegExp(`^<t${triggerId}\\.\\w+\\.news\\.shop\\.example>$`));
    expect(mail.html).toMatch(/<html[^>]* lang="de"/);
    await h.patch(`/v1/triggers/${triggerId}`, { enabled: false });
  });

  it('a test-send is the real mail: same identity, signature and list headers, with unsaved edits', async () => {
    const res = await h.post(`/v1/templates/${shop.templateId}/test-send`, {
      to: 'qa@example.org',
      sender_id: sender.id,
      subject: 'Draft subject for {{customer.first_name}}',
      mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Unsaved body {{greeting}}</mj-text></mj-column></mj-section></mj-body></mjml>',
      data: { customer: { first_name: 'Zoé', locale: 'fr-FR' } },
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(200);
    expect(await json(res)).toMatchObject({ subject: '[Test] Draft subject for Zoé' });
    const { mail, raw } = (await mailsTo('qa@example.org'))[0]!;
    await expectSigned(raw);
    expect(mail.subject).toBe('[Test] Draft subject for Zoé');
    expect(mail.html).toContain('Unsaved body Bonjour Zoé,');
    expect(mail.html).toMatch(/<html[^>]* lang="fr"/);
    expect(mail.replyTo?.value[0]?.address).toBe('service@shop.example');
    expect(mail.headers.get('feedback-id')).toBe(`template-${shop.templateId}:test:s${sender.id}`);
    // The stored template is unchanged.
    const stored = await json(await h.get(`/v1/templates/${shop.templateId}`));
    expect(stored.mjml).not.toContain('Unsaved body');
    const bad = await h.post(`/v1/templates/${shop.templateId}/test-send`, {
      to: 'qa@example.org',
      mjml: '<mjml><mj-body><mj-section>',
    });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('mjml');
  });

  it('the UI test-sends the form as edited, unsaved, from the sender chosen on the page', async () => {
    const { session, csrf } = await signInToUi(h, 'marketer');
    const form = await h.app.request(`/ui/templates/${shop.templateId}`, { headers: { cookie: session } });
    const html = await form.text();
    expect(html).toContain('name="test_sender_id"');
    expect(html).toContain(`<option value="${sender.id}"`);
    const res = await h.app.request(`/ui/templates/${shop.templateId}/test-send`, {
      method: 'POST',
      headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        _csrf: csrf,
        name: 'whatever',
        subject: 'Edited in the form',
        preheader: '',
        mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Typed, not saved</mj-text></mj-column></mj-section></mj-body></mjml>',
        test_to: 'ui-qa@example.org',
        test_sender_id: String(sender.id),
      }),
    });
    expect(await res.text()).toContain('Sent to ui-qa@example.org');
    const { mail, raw } = (await mailsTo('ui-qa@example.org'))[0]!;
    await expectSigned(raw);
    expect(mail.subject).toBe('[Test] Edited in the form');
    expect(mail.html).toContain('Typed, not saved');
    expect(mail.from?.value[0]?.address).toBe('offers@news.shop.example');
    // The campaign form offers the sender identities too.
    const campaignForm = await (
      await h.app.request('/ui/campaigns/new', { headers: { cookie: session } })
    ).text();
    expect(campaignForm).toContain('name="sender_id"');
    expect(campaignForm).toContain(`<option value="${sender.id}"`);
    const triggerForm = await (
      await h.app.request('/ui/triggers/new', { headers: { cookie: session } })
    ).text();
    expect(triggerForm).toContain('name="sender_id"');
    expect(triggerForm).toContain(`<option value="${sender.id}"`);
  });
});
