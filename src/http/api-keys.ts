import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/sql.js';
import type { Role } from './roles.js';

export interface ApiKeyRecord {
  id: number;
  name: string;
  role: Role;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const KEY_PREFIX = 'ofk_';

// Keys are 192 random bits, so a fast hash is enough: there is nothing to brute-force.
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest();

/** Creates a key; the clear key is returned once and only its hash is stored. */
export async function createApiKey(
  sql: Db,
  input: { name: string; role: Role },
): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = KEY_PREFIX + randomBytes(24).toString('base64url');
  const [record] = await sql<ApiKeyRecord[]>`
    insert into api_keys (name, role, hash, prefix)
    values (${input.name}, ${input.role}, ${hashApiKey(key)}, ${key.slice(0, 10)})
    returning id, name, role, prefix, created_at, last_used_at, revoked_at`;
  return { key, record: record! };
}

/** Finds the live key matching a presented secret, and notes its use at most once a minute. */
export async function authenticateApiKey(sql: Db, key: string): Promise<ApiKeyRecord | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 100) return null;
  const [record] = await sql<ApiKeyRecord[]>`
    select id, name, role, prefix, created_at, last_used_at, revoked_at
    from api_keys where hash = ${hashApiKey(key)} and revoked_at is null`;
  if (!record) return null;
  if (!record.last_used_at || Date.now() - record.last_used_at.getTime() > 60_000) {
    await sql`update api_keys set last_used_at = now() where id = ${record.id}`;
  }
  return record;
}

/** Lists keys, newest first, without their hashes. */
export async function listApiKeys(sql: Db): Promise<ApiKeyRecord[]> {
  return sql<ApiKeyRecord[]>`
    select id, name, role, prefix, created_at, last_used_at, revoked_at from api_keys order by id desc`;
}

/** Revokes a key and ends the sessions made with it; returns false when no live key has that id. */
export async function revokeApiKey(sql: Db, id: number): Promise<boolean> {
  const rows = await sql`
    with revoked as (
      update api_keys set revoked_at = now() where id = ${id} and revoked_at is null returning id
    ), ended as (
      update sessions set ended_at = now(), end_reason = 'key_revoked'
      where api_key_id in (select id from revoked) and ended_at is null
    )
    select id from revoked`;
  return rows.length > 0;
}
