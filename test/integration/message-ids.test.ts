import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createSql } from '../../src/db/sql.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { installationId } from '../../src/mail/installation.js';
import { createSender, RetryableSendError } from '../../src/messages/send.js';
import { createMailTransport } from '../../src/messages/transport.js';
import { seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase, urlFor } from '../helpers/test-db.js';

// Gmail drops a message whose Message-ID it has seen: ids must differ between installs (a
// database reset, staging, a second install sending for the same domain) and stay the same
// when one send is retried.

let sink: SmtpSink;
const databases: TestDatabase[] = [];
let rejectNext = 0;
const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>);

beforeAll(async () => {
  sink = await startSmtpSink({
    keepInMemory: true,
    rejectMessage: () => (rejectNext-- > 0 ? { code: 451, message: 'try again later' } : null),
  });
});
afterAll(async () => {
  await sink?.close();
  for (const db of databases) await db.drop();
});

/** A database migrated from nothing, as a first install makes it. */
async function migratedFromScratch(): Promise<TestDatabase> {
  const name = `offerflow_fresh_${Math.random().toString(16).slice(2, 10)}`;
  const admin = createSql(ADMIN_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  await admin.end({ timeout: 5 });
  const url = urlFor(name);
  const sql = createSql(url, { max: 5, idleTimeout: 2 });
  await migrate(sql);
  return {
    sql,
    url,
    name,
    async drop() {
      await sql.end({ timeout: 5 });
      const a = createSql(ADMIN_URL, { max: 1 });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end({ timeout: 5 });
    },
  };
}

/** The same shop and the same campaign in a database; sends every row and returns the Message-IDs. */
async function sendAll(db: TestDatabase): Promise<string[]> {
  const shop = await seedCampaignShop(db.sql, 8, config.OFFERFLOW_SECRET);
  const [c] = await db.sql<{ id: number }[]>`
    insert into campaigns (name, segment_id, template_id, template_version, status, from_address)
    values ('Same', ${shop.segmentId}, ${shop.templateId}, 1, 'sending', 'offers@shop.example') returning id`;
  const ids = [...shop.eligible.keys()];
  const rows = await db.sql<{ id: number }[]>`
    insert into messages ${db.sql(ids.map((customer_id) => ({ campaign_id: c!.id, customer_id, template_id: shop.templateId, template_version: 1 })))}
    returning id`;
  const transport = createMailTransport({ SMTP_URL: sink.url });
  const sender = createSender({
    sql: db.sql,
    config,
    transport,
    logger: pino({ level: 'silent' }),
    clock: () => new Date(),
  });
  const out: string[] = [];
  try {
    for (const row of rows) {
      const result = await sender.send(row.id, { finalAttempt: false });
      if (result.outcome === 'sent') out.push(result.messageId);
    }
  } finally {
    await sender.close();
  }
  return out;
}

describe('Message-IDs', () => {
  it('two fresh databases never produce the same Message-ID, for the same rows', async () => {
    const made = [
      await createTestDatabase(),
      await createTestDatabase(),
      await migratedFromScratch(),
      await migratedFromScratch(),
    ];
    databases.push(...made);
    const installs = await Promise.all(made.map((db) => installationId(db.sql)));
    expect(new Set(installs).size).toBe(made.length);
    const sent = await Promise.all(made.map(sendAll));
    const all = sent.flat();
    expect(all.length).toBe(sent[0]!.length * made.length);
    expect(sent[0]!.length).toBeGreaterThan(0);
    expect(new Set(all).size).toBe(all.length);
    for (const [i, ids] of sent.entries())
      for (const id of ids)
        expect(id).toMatch(new RegExp(`^<m\\d+\\.c\\d+\\.${installs[i]}@shop\\.example>$`));
  });

  it('a copied database gets its own install id, once, and every process of it agrees', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const ids = await Promise.all(Array.from({ length: 5 }, () => installationId(db.sql)));
    expect(new Set(ids).size).toBe(1);
    expect(await installationId(db.sql)).toBe(ids[0]);
  });

  it('a retried send keeps its Message-ID', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const shop = await seedCampaignShop(db.sql, 3, config.OFFERFLOW_SECRET);
    const [c] = await db.sql<{ id: number }[]>`
      insert into campaigns (name, segment_id, template_id, template_version, status)
      values ('Retry', ${shop.segmentId}, ${shop.templateId}, 1, 'sending') returning id`;
    const [m] = await db.sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, template_id, template_version)
      values (${c!.id}, ${[...shop.eligible.keys()][0]!}, ${shop.templateId}, 1) returning id`;
    const transport = createMailTransport({ SMTP_URL: sink.url });
    const sender = createSender({
      sql: db.sql,
      config,
      transport,
      logger: pino({ level: 'silent' }),
      clock: () => new Date(),
    });
    try {
      const before = sink.messages.length;
      rejectNext = 1;
      await expect(sender.send(m!.id, { finalAttempt: false })).rejects.toBeInstanceOf(RetryableSendError);
      const result = await sender.send(m!.id, { finalAttempt: false });
      expect(result.outcome).toBe('sent');
      const mails = await Promise.all(sink.messages.slice(before).map((raw) => simpleParser(raw)));
      expect(mails).toHaveLength(1);
      expect(mails[0]!.messageId).toBe((result as { messageId: string }).messageId);
      const [row] = await db.sql<
        { smtp_message_id: string; attempts: number }[]
      >`select smtp_message_id, attempts from messages where id = ${m!.id}`;
      expect(row).toEqual({ smtp_message_id: mails[0]!.messageId, attempts: 2 });
    } finally {
      await sender.close();
    }
  });
});
