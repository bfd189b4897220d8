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
    const spool = EventSpool.open(sub, db.url);
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
});
