import { describe, expect, it } from 'vitest';
import type { Db } from '../db/sql.js';
import { MessageLookup } from './message-lookup.js';

/** A stand-in for `sql` that answers the batched lookup and counts the queries. */
function fakeSql(sentAt: (id: number) => Date | null) {
  const queries: number[][] = [];
  const sql = ((_strings: TemplateStringsArray, ...values: unknown[]) => {
    const ids = values.find(Array.isArray) as number[];
    queries.push(ids);
    return Promise.resolve(
      ids
        .filter((id) => id < 100)
        .map((id) => ({
          id,
          customer_id: id,
          campaign_id: 1,
          trigger_id: null,
          sent_at: sentAt(id),
          links: {},
        })),
    );
  }) as unknown as Db;
  return { sql, queries };
}

describe('MessageLookup', () => {
  it('coalesces concurrent lookups into one query', async () => {
    const { sql, queries } = fakeSql(() => new Date());
    const lookup = new MessageLookup(sql);
    const found = await Promise.all([lookup.get(1), lookup.get(2), lookup.get(1), lookup.get(500)]);
    expect(found.map((m) => m?.id ?? null)).toEqual([1, 2, 1, null]);
    expect(queries).toEqual([[1, 2, 500]]);
  });

  it('remembers sent messages, never unknown or unsent ones', async () => {
    const { sql, queries } = fakeSql((id) => (id === 2 ? null : new Date()));
    const lookup = new MessageLookup(sql);
    await Promise.all([lookup.get(1), lookup.get(2), lookup.get(500)]);
    await Promise.all([lookup.get(1), lookup.get(2), lookup.get(500)]);
    expect(queries).toEqual([
      [1, 2, 500],
      [2, 500],
    ]);
  });

  it('evicts the least recently used past its size, and forgets after the TTL', async () => {
    const { sql, queries } = fakeSql(() => new Date());
    const lookup = new MessageLookup(sql, { cacheSize: 2 });
    await Promise.all([lookup.get(1), lookup.get(2)]);
    await lookup.get(1); // 1 is now the most recent
    await lookup.get(3); // evicts 2
    await Promise.all([lookup.get(1), lookup.get(3), lookup.get(2)]);
    expect(queries).toEqual([[1, 2], [3], [2]]);

    const expiring = fakeSql(() => new Date());
    const short = new MessageLookup(expiring.sql, { cacheTtlMs: 0 });
    await short.get(1);
    await short.get(1);
    expect(expiring.queries).toEqual([[1], [1]]);
  });

  it('keeps at most two queries in flight; ids arriving meanwhile go in one later batch', async () => {
    const started: number[][] = [];
    const release: Array<() => void> = [];
    const sql = ((_strings: TemplateStringsArray, ...values: unknown[]) => {
      const ids = values.find(Array.isArray) as number[];
      started.push(ids);
      return new Promise((resolve) => {
        release.push(() =>
          resolve(
            ids.map((id) => ({
              id,
              customer_id: id,
              campaign_id: 1,
              trigger_id: null,
              sent_at: new Date(),
              links: {},
            })),
          ),
        );
      });
    }) as unknown as Db;
    const lookup = new MessageLookup(sql, { cacheSize: 0 });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const all = [lookup.get(1)];
    await turn();
    all.push(lookup.get(2));
    await turn();
    all.push(lookup.get(3), lookup.get(4));
    await turn();
    all.push(lookup.get(5));
    await turn();
    expect(started).toEqual([[1], [2]]);
    release.shift()!();
    await turn();
    await turn();
    expect(started).toEqual([[1], [2], [3, 4, 5]]);
    for (const done of release.splice(0)) done();
    expect((await Promise.all(all)).map((m) => m?.id)).toEqual([1, 2, 3, 4, 5]);
  });
});
