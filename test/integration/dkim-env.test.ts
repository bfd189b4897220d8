import { generateKeyPairSync } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { verifyDkim } from '../helpers/dkim.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// The DKIM_* settings keep working: they are the default sender's key.

let h: Harness;
let sink: SmtpSink;
const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string;

beforeAll(async () => {
  sink = await startSmtpSink({ keepInMemory: true });
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    SMTP_URL: sink.url,
    DKIM_DOMAIN: 'brand.example',
    DKIM_SELECTOR: 'env1',
    DKIM_PRIVATE_KEY: pem,
  });
  h = await createHarness({ config });
  await installDefaultTemplates(h.db.sql);
});
afterAll(async () => {
  await sink?.close();
  await h?.close();
});

describe('DKIM_* settings', () => {
  it('sign the default sender’s mail, whose DNS records then show that key', async () => {
    const created = await h.post('/v1/senders', { from_address: 'shop@brand.example', from_name: 'Brand' });
    expect(created.status).toBe(201);
    const sender = await json(created);
    const dkim = sender.dns_records.find((r: { purpose: string }) => r.purpose === 'dkim');
    expect(dkim).toMatchObject({ name: 'env1._domainkey.brand.example' });
    // Not aligned with DKIM_DOMAIN: refused for the default sender, which that key signs.
    const misaligned = await h.patch(`/v1/senders/${sender.id}`, { from_address: 'shop@elsewhere.example' });
    expect(misaligned.status).toBe(422);
    expect((await json(misaligned)).errors[0].path).toBe('from_address');

    const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
    const res = await h.post(`/v1/templates/${t!.id}/test-send`, { to: 'env@example.org', data: {} });
    expect(res.status).toBe(200);
    const raw = sink.messages.at(-1)!;
    const [result] = await verifyDkim(raw, { [dkim.name]: dkim.value });
    expect(result!.status.result).toBe('pass');
    expect(result!.signingDomain).toBe('brand.example');
    expect((await simpleParser(raw)).from?.value[0]).toMatchObject({
      address: 'shop@brand.example',
      name: 'Brand',
    });
  });
});
