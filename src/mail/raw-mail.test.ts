import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { prebuiltMail } from './raw-mail.js';

// The prebuilt mail must read, to a mail client, exactly as nodemailer's own composition of the
// same message: same addresses, subject, headers, text and html, for any content.

/** The bytes nodemailer would put on the wire for a message (stream transport, no network). */
async function wire(message: SendMailOptions): Promise<Buffer> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const info = await transport.sendMail(message);
  return info.message as Buffer;
}

const base = (over: Partial<SendMailOptions> = {}): SendMailOptions => ({
  from: { name: 'Boutique Hélène', address: 'offers@shop.example' },
  replyTo: 'care@shop.example',
  to: 'ana@example.com',
  subject: 'Vos offres, Hélène',
  html: '<html><body><p>Bonjour Hélène</p>\n<a href="https://offers.shop.example/t/c/x">voir</a></body></html>',
  text: 'Bonjour Hélène\nvoir: https://offers.shop.example/t/c/x',
  messageId: '<m42.c7.abc@shop.example>',
  date: new Date('2026-12-07T10:00:00Z'),
  headers: {
    'List-Unsubscribe': '<https://offers.shop.example/u/tok>, <mailto:u+tok@bounce.shop.example>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    'X-Offerflow-Message': '42',
  },
  ...over,
});

async function readBoth(message: SendMailOptions) {
  const [ours, theirs] = await Promise.all([
    simpleParser(await wire(prebuiltMail(message))),
    simpleParser(await wire(message)),
  ]);
  return { ours, theirs };
}

describe('prebuiltMail', () => {
  it('hands nodemailer one raw buffer and the envelope of its headers', () => {
    const out = prebuiltMail(base());
    expect(Buffer.isBuffer(out.raw)).toBe(true);
    expect(out.envelope).toEqual({ from: 'offers@shop.example', to: ['ana@example.com'] });
    expect(out.html).toBeUndefined();
  });

  it('keeps a given envelope (VERP) and the DKIM key', () => {
    const dkim = { domainName: 'shop.example', keySelector: 's1', privateKey: 'k' };
    const out = prebuiltMail(base({ envelope: { from: 'b+1@bounce.example', to: 'ana@example.com' }, dkim }));
    expect(out.envelope).toEqual({ from: 'b+1@bounce.example', to: 'ana@example.com' });
    expect(out.dkim).toEqual(dkim);
  });

  it('leaves to nodemailer a message it does not build (attachments)', () => {
    const message = base({ attachments: [{ filename: 'a.txt', content: 'a' }] });
    expect(prebuiltMail(message)).toBe(message);
  });

  it('reads as nodemailer composes it, whatever the content', async () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 120 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          name: line,
          subject: line,
          text: fc.array(line, { maxLength: 6 }).map((l) => l.join('\n')),
          html: fc.array(line, { maxLength: 6 }).map((l) => `<p>${l.join('</p>\r\n<p>')}</p>`),
          long: fc.string({ minLength: 200, maxLength: 400 }),
        }),
        async ({ name, subject, text, html, long }) => {
          const { ours, theirs } = await readBoth(
            base({
              from: { name, address: 'offers@shop.example' },
              subject,
              text: `${text}\n${long}`,
              html: `${html}<p>${long}</p>`,
            }),
          );
          expect(ours.subject).toBe(theirs.subject);
          expect(ours.from?.value).toEqual(theirs.from?.value);
          expect(ours.text).toBe(theirs.text);
          expect(ours.html).toBe(theirs.html);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('carries the same headers', async () => {
    const { ours, theirs } = await readBoth(base());
    for (const key of [
      'to',
      'reply-to',
      'message-id',
      'date',
      'list-unsubscribe-post',
      'x-offerflow-message',
      'mime-version',
    ])
      expect(ours.headers.get(key), key).toEqual(theirs.headers.get(key));
    expect(ours.headers.get('list-unsubscribe')).toEqual(theirs.headers.get('list-unsubscribe'));
    expect(ours.messageId).toBe('<m42.c7.abc@shop.example>');
  });
});
