import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/sql.js';
import type { Role } from './roles.js';

// Server-side sessions (the web UI's today). The cookie holds 256 random bits; the table holds
// only their SHA-256, so neither a copied database nor a log line yields a live cookie.

export interface LiveSession {
  id: number;
  /** The key the session was made with, or null for a person's session. */
  apiKeyId: number | null;
  userId: number | null;
  /** The name and role of the key or person the session was made with. */
  name: string;
  role: Role;
  csrfSecret: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest();

/** Opens a session for a key or a person; returns the cookie token (shown once, never stored). */
export async function createSession(
  sql: Db,
  input: ({ apiKeyId: number; userId?: undefined } | { userId: number; apiKeyId?: undefined }) & {
    now: Date;
    maxHours: number;
  },
): Promise<{ token: string; id: number }> {
  const token = randomBytes(32).toString('base64url');
  const expires = new Date(input.now.getTime() + input.maxHours * 3_600_000);
  const [row] = await sql<{ id: number }[]>`
    insert into sessions (token_hash, api_key_id, user_id, csrf_secret, created_at, last_seen_at, expires_at)
    values (${hashToken(token)}, ${input.apiKeyId ?? null}, ${input.userId ?? null}, ${randomBytes(16).toString('base64url')},
      ${input.now}, ${input.now}, ${expires})
    returning id`;
  return { token, id: row!.id };
}

/**
 * The live session of a cookie token: not ended, not past its expiry, seen within the idle
 * time, and made with a key that is not revoked (or by a person not disabled). A session found dead is ended with the reason,
 * so it can never come back. Notes the session's use at most once a minute.
 */
export async function findLiveSession(
  sql: Db,
  input: { token: string | undefined; now: Date; idleMinutes: number },
): Promise<LiveSession | undefined> {
  if (!input.token || input.token.length > 100) return undefined;
  const [row] = await sql<
    (LiveSession & { lastSeenAt: Date; expiresAt: Date; revoked: boolean; ended: boolean })[]
  >`
    select s.id, s.api_key_id as "apiKeyId", s.user_id as "userId",
      coalesce(k.name, coalesce(u.name, u.email)) as name, coalesce(k.role, u.role) as role,
      s.csrf_secret as "csrfSecret", s.last_seen_at as "lastSeenAt", s.expires_at as "expiresAt",
      coalesce(k.revoked_at is not null, u.status = 'disabled') as revoked, s.ended_at is not null as ended
    from sessions s left join api_keys k on k.id = s.api_key_id left join users u on u.id = s.user_id
    where s.token_hash = ${hashToken(input.token)}`;
  if (!row || row.ended) return undefined;
  const now = input.now.getTime();
  const reason = row.revoked
    ? row.apiKeyId === null
      ? 'user_disabled'
      : 'key_revoked'
    : row.expiresAt.getTime() <= now
      ? 'expired'
      : row.lastSeenAt.getTime() + input.idleMinutes * 60_000 <= now
        ? 'idle'
        : undefined;
  if (reason) {
    await sql`update sessions set ended_at = ${input.now}, end_reason = ${reason}
      where id = ${row.id} and ended_at is null`;
    return undefined;
  }
  // Once a minute at most (half the idle time when that is shorter): a write per page is waste.
  if (now - row.lastSeenAt.getTime() > Math.min(60_000, input.idleMinutes * 30_000)) {
    await sql`update sessions set last_seen_at = ${input.now} where id = ${row.id}`;
  }
  return {
    id: row.id,
    apiKeyId: row.apiKeyId,
    userId: row.userId,
    name: row.name,
    role: row.role,
    csrfSecret: row.csrfSecret,
  };
}

/** Ends the session of a cookie token (sign-out); harmless when it has ended already. */
export async function endSession(sql: Db, token: string | undefined, now: Date): Promise<void> {
  if (!token || token.length > 100) return;
  await sql`update sessions set ended_at = ${now}, end_reason = 'signed_out'
    where token_hash = ${hashToken(token)} and ended_at is null`;
}
