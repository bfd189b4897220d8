import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/test-db.js';
import { EventBuffer } from './event-buffer.js';
import { EventSpool } from './event-spool.js';

let db: TestDatabase;
let customerId: number;
let messageId: number;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync('/tmp/offerflow-spool-test-');
  const [c] = await db.sql<
    { id: number }[]
  >`insert into customers (external_id) values ('spool') returning id`;
  customerId = c!.id;
  const [m] = await db.sql<{ id: number }[]>`
    insert into messages (customer_id, status, sent_at) values (${customerId}, 'sent', now()) returning id`;
  messageId = m!.id;
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const stored = async () =>
  (
    await db.sql<{ kind: string; n: number }[]>`
    select kind, count(*)::int as n from contact_events group by kind order by kind`
  ).map((r) => [r.kind, r.n]);

describe('EventSpool', () => {
  it('keeps acknowledged events of a process that died, and stores them once however often replayed', async () => {
    // A server that journals three events and dies before any flush.
    const dead = new EventBuffer(db.sql, { spool: EventSpool.open(dir, db.url), intervalMs: 60_000 });
    dead.push({ customer_id: customerId, kind: 'opened', message_id: messageId, at: new Date() });
    dead.push({ customer_id: customerId, kind: 'opened', message_id: messageId, at: new Date() });
    dead.pushDeferred({
      kind: 'clicked',
      message_id: messageId,
      link: 16,
      url: 'https://x.example',
      method: 'GET',
      at: new Date(),
    });
    expect(await stored()).toEqual([]);

    // The next server replays the journal; a crash after storing but before deleting it means a
    // third one replays it again.
    const resolver = async (events: { message_id: number; at: Date; url?: string }[]) =>
      events.map((e) => ({
        customer_id: customerId,
        kind: 'clicked',
        message_id: e.message_id,
        at: e.at,
        data: { url: e.url },
      }));
    const spool = EventSpool.open(dir, db.url);
    const records = spool.adoptOrphans();
    const next = new EventBuffer(db.sql, { spool, intervalMs: 60_000 });
    next.setResolver(resolver);
    expect(next.adoptSpooled(records)).toBe(3);
    await next.close();
    spool.close();
    // Stored, the dead server's segment is gone.
    expect(EventSpool.open(dir, db.url).adoptOrphans()).toEqual([]);
    // A crash between storing and deleting would replay the same records: stored once still.
    const again = new EventBuffer(db.sql, { intervalMs: 60_000 });
    again.setResolver(resolver);
    again.adoptSpooled(records);
    await again.close();
    expect(await stored()).toEqual([
      ['clicked', 1],
      ['opened', 2],
    ]);
    const [click] = await db.sql<
      { url: string }[]
    >`select data ->> 'url' as url from contact_events where kind = 'clicked'`;
    expect(click!.url).toBe('https://x.example');
  });

  it('deletes journal segments once their events are stored, and keeps them while the database fails', async () => {
    const sub = join(dir, 'second');
    // Sealed at every flush, to see a sealed segment kept and then deleted.
    const spool = EventSpool.open(sub, db.url, { segmentBytes: 0 });
    const broken = new EventBuffer(db.sql, { spool, intervalMs: 60_000 });
    broken.push({ customer_id: customerId, kind: 'note', at: new Date() });
    // A resolver that fails stands for the database being down: the batch stays, the file too.
    broken.setResolver(async () => {
      throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    });
    broken.pushDeferred({ kind: 'opened', message_id: messageId, method: 'GET', at: new Date() });
    await broken.flush();
    expect(broken.pending).toBe(2);
    expect(spool.unreleased).toBe(1);
    broken.setResolver(async (events) =>
      events.map((e) => ({ customer_id: customerId, kind: 'opened', at: e.at })),
    );
    await broken.flush();
    expect(broken.pending).toBe(0);
    expect(spool.unreleased).toBe(0);
    spool.close();
    const files = readdirSync(join(sub, readdirSync(sub)[0]!));
    // Only the current (empty) segment is left.
    expect(files).toHaveLength(1);
  });

  it('keeps writing one segment across flushes until it is full, and leaves nothing to replay after a clean close', async () => {
    const sub = join(dir, 'third');
    const spool = EventSpool.open(sub, db.url, { segmentBytes: 2000 });
    const buffer = new EventBuffer(db.sql, { spool, intervalMs: 60_000 });
    const segments = () => readdirSync(join(sub, readdirSync(sub)[0]!));
    const notes = async () =>
      (await db.sql<{ n: number }[]>`select count(*)::int as n from contact_events where kind = 'note'`)[0]!
        .n;
    const before = await notes();
    const event = () => ({ customer_id: customerId, kind: 'note', at: new Date() });
    for (let i = 0; i < 3; i++) {
      await buffer.push(event());
      await buffer.flush();
    }
    // Three flushes, one file: small segments are not sealed (no file made and deleted per flush).
    expect(segments()).toHaveLength(1);
    expect(spool.unreleased).toBe(0);
    // Past segmentBytes the next flush seals it, and deletes it once its events are stored.
    for (let i = 0; i < 20; i++) await buffer.push(event());
    await buffer.flush();
    expect(spool.unreleased).toBe(0);
    expect(segments()).toHaveLength(1);
    await buffer.push(event());
    await buffer.close();
    spool.close();
    // After a clean close the next start finds nothing to replay.
    expect(EventSpool.open(sub, db.url).adoptOrphans()).toEqual([]);
    expect((await notes()) - before).toBe(24);
  });
});
