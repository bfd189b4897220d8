import type { Redis } from 'ioredis';
import type { SendWindowStore } from '../deps.js';

/**
 * The Redis side of a send window: per group (a campaign), a sorted set of the job ids handed
 * over, a cursor (the highest row id handed over) and a short lock so that one top-up runs at a
 * time. All of it is a hint: PostgreSQL's ledger says what is sent, and a wiped Redis simply
 * makes the next top-up start again from the first unsent row.
 */
export function createSendWindowStore(
  connection: Redis,
  prefix: string,
  missing: (queue: string, jobIds: readonly string[]) => Promise<string[]>,
): SendWindowStore {
  const key = (group: string, part: string) => `${prefix}:window:${group}:${part}`;
  return {
    async live(queue, group) {
      const members = await connection.zrange(key(group, 'jobs'), 0, -1);
      if (members.length === 0) return new Set();
      // The dispatcher's liveness check, which also clears what will never run: a finished job,
      // a remnant hash, or one a partial loss of Redis left outside every list (its id would
      // make a new add a no-op).
      const gone = await missing(queue, members);
      if (gone.length > 0) await connection.zrem(key(group, 'jobs'), ...gone);
      const dead = new Set(gone);
      return new Set(members.filter((id) => !dead.has(id)));
    },
    async add(group, jobIds) {
      if (jobIds.length === 0) return;
      const now = Date.now();
      await connection.zadd(key(group, 'jobs'), ...jobIds.flatMap((id) => [now, id]));
    },
    async cursor(group) {
      const value = await connection.get(key(group, 'cursor'));
      return value === null ? null : Number(value);
    },
    async setCursor(group, id) {
      if (id === null) await connection.del(key(group, 'cursor'));
      else await connection.set(key(group, 'cursor'), String(id));
    },
    async lock(group, ms) {
      const token = `${process.pid}-${Math.random()}`;
      const ok = await connection.set(key(group, 'lock'), token, 'PX', ms, 'NX');
      if (ok !== 'OK') return null;
      return async () => {
        if ((await connection.get(key(group, 'lock'))) === token) await connection.del(key(group, 'lock'));
      };
    },
    async clear(group) {
      await connection.del(key(group, 'jobs'), key(group, 'cursor'));
    },
  };
}
