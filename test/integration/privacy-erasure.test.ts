import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCampaign } from '../../src/campaigns/plan.js';
import { sendJobId, sendJobs } from '../../src/messages/send-jobs.js';
import { PERSONAL_FIELDS } from '../../src/privacy/personal-data.js';
import { columnsMentioning } from '../helpers/db-scan.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// Strings that exist nowhere else, so a scan that finds one has found this person.
const EMAIL = 'zelda.quuxley@example.org';
const FIRST = 'Zeldabeth';
const LAST = 'Quuxleyworth';
const NOTE = 'Promised a callback about the Xyloptera knee brace';
const NEEDLES = [EMAIL, FIRST, LAST, NOTE, 'zelda.quuxley'];

const logLines: string[] = [];
let h: Harness;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  h = await createHarness({ logger: pino({ level: 'trace' }, sink) });
});
afterAll(async () => h.close());

const containsPerson = (text: string) => NEEDLES.some((n) => text.toLowerCase().includes(n.toLowerCase()));

/** Every text-like column of every table that mentions the person: `table.column`. */
const tablesMentioningPerson = () => columnsMentioning(h.db.sql, NEEDLES);

/** Every value under the harness's BullMQ prefix, as text. */
async function queueContents(): Promise<string[]> {
  const redis = h.deps.redis!;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.queuePrefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') out.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'zset') out.push(...(await redis.zrange(key, 0, -1)));
      else if (type === 'set') out.push(...(await redis.smembers(key)));
      else if (type === 'string') out.push((await redis.get(key)) ?? '');
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return out;
}

async function campaignWithTemplate(name: string, segmentId: number): Promise<number> {
  const sql = h.db.sql;
  const [tpl] = await sql<{ id: number }[]>`
    insert into templates (name, latest_version) values (${`tpl-${name}`}, 1) returning id`;
  await sql`
    insert into template_versions (template_id, version, subject, mjml, html)
    values (${tpl!.id}, 1, 'Hello', '<mjml></mjml>', '<p>Hello</p>')`;
  const [campaign] = await sql<{ id: number }[]>`
    insert into campaigns (name, segment_id, template_id, template_version, offers_per_email, status, launched_at)
    values (${name}, ${segmentId}, ${tpl!.id}, 1, 0, 'sending', now()) returning id`;
  return campaign!.id;
}

describe('erasure', () => {
  it('leaves no trace of the person in tables, queues or logs; keeps report totals; never mails them again', async () => {
    const sql = h.db.sql;
    expect(
      (
        await h.post('/v1/attributes', {
          key: 'allergy',
          type: 'string',
          sensitive: true,
          category: 'health',
        })
      ).status,
    ).toBe(201);
    const created = await h.post('/v1/customers', {
      external_id: 'erp-77',
      email: EMAIL,
      first_name: FIRST,
      last_name: LAST,
      birth_date: '1980-02-03',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      address: { line1: `1 ${LAST} Road`, city: 'Lyon', country: 'FR' },
      income_band: 'b3',
      education: 'master',
      preferences: { channel: 'email' },
      preferred_categories: ['garden'],
      family: [{ relation: 'child', name: `${FIRST} Jr` }],
      occupation: 'pilot',
      hobbies: ['gliding'],
      social_handles: { instagram: `@${FIRST}` },
      attributes: { allergy: 'pollen' },
      consents: { marketing_email: true },
    });
    expect(created.status).toBe(201);
    const { id } = await json(created);
    expect(
      (
        await h.post(
          `/v1/customers/${id}/consents`,
          { purpose: 'sensitive:health', granted: true, source: 'web_form', text_version: 'v3' },
          { peer: '198.51.100.23' },
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await h.post(`/v1/customers/${id}/interactions`, {
          kind: 'note',
          channel: 'phone',
          text: NOTE,
          author: 'marie',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await h.post('/v1/purchases', {
          external_line_id: 'line-1',
          customer_id: id,
          order_ref: 'o-1',
          sku: 'sku-1',
          category: 'garden',
          amount: 42.5,
          purchased_at: '2026-01-10T10:00:00Z',
        })
      ).status,
    ).toBe(201);

    // A campaign that already mailed the person (sent, opened, bounced once, converted)…
    const [segment] = await sql<{ id: number }[]>`
      insert into segments (name, rule) values ('all', '{"==": [1, 1]}') returning id`;
    const sent = await campaignWithTemplate('sent', segment!.id);
    const [m1] = await sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, status, sent_at, smtp_reply, variant)
      values (${sent}, ${id}, 'sent', now(), ${`250 ok <${EMAIL}>`}, 'A') returning id`;
    await sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id, data) values
        (${id}, 'sent', ${m1!.id}, ${sent}, '{}'),
        (${id}, 'opened', ${m1!.id}, ${sent}, '{}'),
        (${id}, 'bounced', ${m1!.id}, ${sent}, ${sql.json({ type: 'soft', reason: `452 mailbox of ${EMAIL} full` })}),
        (${id}, 'converted', ${m1!.id}, ${sent}, ${sql.json({ revenue: 42.5, currency: 'EUR', order_ref: 'o-1' })})`;
    // …and one still queued for them, with its send job waiting.
    const pending = await campaignWithTemplate('pending', segment!.id);
    const [m2] = await sql<{ id: number }[]>`
      insert into messages (campaign_id, customer_id, status) values (${pending}, ${id}, 'queued') returning id`;
    await h.dispatcher.enqueue('send', sendJobs(pending, [m2!.id]));
    expect(await h.dispatcher.queue('send').getJob(sendJobId(m2!.id))).toBeDefined();

    const reportBefore = await json(await h.get(`/v1/reports/campaigns/${sent}`));
    const exported = await h.get(`/v1/customers/${id}/export`);
    expect(exported.status).toBe(200);
    const doc = await json(exported);
    expect(await tablesMentioningPerson()).not.toEqual([]);

    const logMark = logLines.length;
    expect((await h.delete(`/v1/customers/${id}`)).status).toBe(204);

    // Nothing left: tables, queue payloads, log lines written since the request.
    expect(await tablesMentioningPerson()).toEqual([]);
    expect((await queueContents()).filter(containsPerson)).toEqual([]);
    expect(await h.dispatcher.queue('send').getJob(sendJobId(m2!.id))).toBeUndefined();
    const newLines = logLines.slice(logMark);
    expect(newLines.length).toBeGreaterThan(0);
    expect(newLines.filter(containsPerson)).toEqual([]);

    // The pending message is cancelled; the facts reports need are intact.
    const [pendingRow] = await sql`select status, suppressed_reason from messages where id = ${m2!.id}`;
    expect(pendingRow).toMatchObject({ status: 'cancelled', suppressed_reason: 'erased' });
    expect(await json(await h.get(`/v1/reports/campaigns/${sent}`))).toEqual(reportBefore);
    const [purchase] = await sql`select amount from purchases where customer_id = ${id}`;
    expect(purchase!.amount).toBe(42.5);
    const kinds = await sql`select kind from contact_events where customer_id = ${id} order by id`;
    expect(kinds.map((k) => k.kind).sort()).toEqual(['bounced', 'converted', 'note', 'opened', 'sent']);

    // The earlier export held every field erasure cleared, and erasure cleared every listed field.
    expect(doc.erasure.clears).toEqual({
      customer: [...PERSONAL_FIELDS.customers],
      consents: [...PERSONAL_FIELDS.consents],
      contact_events: [...PERSONAL_FIELDS.contact_events],
      messages: [...PERSONAL_FIELDS.messages],
    });
    const nonPersonal = ['id', 'created_at', 'updated_at', 'erased_at', 'inactive_at'];
    expect(Object.keys(doc.customer).sort()).toEqual([...PERSONAL_FIELDS.customers, ...nonPersonal].sort());
    const [after] = await sql<Record<string, unknown>[]>`select * from customers where id = ${id}`;
    const empty = (v: unknown) =>
      v === null ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && Object.keys(v as object).length === 0);
    for (const field of PERSONAL_FIELDS.customers) {
      expect(doc.customer[field], field).not.toSatisfy(empty);
      if (field === 'external_id') expect(after![field]).toBe(`erased:${id}`);
      else expect(after![field], field).toSatisfy(empty);
    }
    expect(doc.consents.find((c: { ip: string | null }) => c.ip)?.ip).toBe('198.51.100.23');
    expect(doc.contact_events.find((e: { kind: string }) => e.kind === 'note')).toMatchObject({
      text: NOTE,
      author: 'marie',
    });
    expect(doc.messages.find((m: { id: number }) => m.id === m1!.id).smtp_reply).toContain(EMAIL);
    const changed = await sql`
      select count(*)::int as n from consents where customer_id = ${id} and ip is not null
      union all select count(*)::int from contact_events where customer_id = ${id} and (text is not null or author is not null)
      union all select count(*)::int from messages where customer_id = ${id} and (smtp_reply is not null or error is not null)`;
    expect(changed.map((r) => r.n)).toEqual([0, 0, 0]);

    // The ERP sends the person again: a new customer, never mailed (the keyed hash suppresses them).
    const again = await h.post('/v1/customers', {
      external_id: 'erp-77',
      email: EMAIL.toUpperCase(),
      consents: { marketing_email: true },
    });
    expect(again.status).toBe(201);
    const newId = (await json(again)).id;
    expect(newId).not.toBe(id);
    const next = await campaignWithTemplate('after', segment!.id);
    await planCampaign({ sql, config: h.deps.config, jobs: h.dispatcher, clock: () => new Date() }, next);
    const rows =
      await sql`select customer_id, status, suppressed_reason from messages where campaign_id = ${next}`;
    expect(rows.find((r) => r.customer_id === newId)).toMatchObject({
      status: 'suppressed',
      suppressed_reason: 'erased',
    });
    expect(rows.find((r) => r.customer_id === id)).toBeUndefined();
  });
});
