import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// "Test-send as edited" on the template page mails what is on the screen, saved or not, over
// real SMTP; the saved template stays as it was, and a refused address is said at its field.

let h: Harness;
let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink({
    port: 0,
    host: '127.0.0.1',
    keepInMemory: true,
    rejectRecipient: (address) =>
      address.startsWith('nobody@') ? { code: 550, message: 'No such user' } : null,
  });
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', SMTP_URL: sink.url } as Record<
    string,
    string
  >);
  h = await createHarness({ config });
});
afterAll(async () => {
  await h?.close();
  await sink?.close();
});

const mjml = (text: string) =>
  `<mjml><mj-body><mj-section><mj-column><mj-text>${text}</mj-text></mj-column></mj-section></mj-body></mjml>`;

const testSend = (id: number, session: string, fields: Record<string, string>) =>
  h.app.request(`/ui/templates/${id}/test-send`, {
    method: 'POST',
    headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' },
    body: new URLSearchParams(fields),
  });

describe('test-send from the template page', () => {
  it('mails the subject and body on the screen, not the saved version, and keeps the saved one', async () => {
    const tpl = await json(
      await h.post('/v1/templates', { name: 'Autumn', subject: 'Saved subject', mjml: mjml('Saved body') }),
    );
    const marketer = await signInToUi(h, 'marketer');
    const before = sink.messages.length;
    const res = await testSend(tpl.id, marketer.session, {
      _csrf: marketer.csrf,
      name: 'Autumn',
      subject: 'Edited subject',
      mjml: mjml('Edited body, not saved yet'),
      test_to: 'qa@shop.example',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sent to qa@shop.example');
    expect(sink.messages.length).toBe(before + 1);
    const mail = await simpleParser(sink.messages.at(-1) as Buffer);
    expect(mail.subject).toBe('[Test] Edited subject');
    expect(mail.html).toContain('Edited body, not saved yet');
    expect(mail.html).not.toContain('Saved body');
    const saved = await json(await h.get(`/v1/templates/${tpl.id}`));
    expect(saved).toMatchObject({ subject: 'Saved subject', version: 1 });
  });

  it('says what is wrong with the address or the edited MJML, and sends nothing', async () => {
    const tpl = await json(
      await h.post('/v1/templates', { name: 'Winter', subject: 'Hello', mjml: mjml('Body') }),
    );
    const marketer = await signInToUi(h, 'marketer');
    const before = sink.messages.length;
    const refused = await testSend(tpl.id, marketer.session, {
      _csrf: marketer.csrf,
      subject: 'Hello',
      mjml: mjml('Body'),
      test_to: 'nobody@shop.example',
    });
    expect(await refused.text()).toContain('Test-send to: ');
    const notAddress = await testSend(tpl.id, marketer.session, {
      _csrf: marketer.csrf,
      test_to: 'not an address',
    });
    expect(await notAddress.text()).toContain('Test-send to');
    const broken = await testSend(tpl.id, marketer.session, {
      _csrf: marketer.csrf,
      mjml: '<mjml><mj-body><mj-section>',
      test_to: 'qa@shop.example',
    });
    expect(await broken.text()).toMatch(/class="error"[^>]*>mjml/);
    expect(sink.messages.length).toBe(before);
    const noCsrf = await testSend(tpl.id, marketer.session, { test_to: 'qa@shop.example' });
    expect(noCsrf.status).toBe(403);
    expect(sink.messages.length).toBe(before);
  });
});
