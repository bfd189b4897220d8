import { createHash, randomBytes } from 'node:crypto';
import type { Db, Sql } from '../db/sql.js';
import type { Role } from '../http/roles.js';

export type UserStatus = 'invited' | 'active' | 'disabled';

export interface User {
  id: number;
  email: string;
  name: string | null;
  role: Role;
  status: UserStatus;
  totp: boolean;
  created_at: Date;
  last_sign_in_at: Date | null;
}

export type TokenPurpose = 'invite' | 'reset';

/** How long a mailed link works. */
export const TOKEN_HOURS: Record<TokenPurpose, number> = { invite: 72, reset: 1 };

const hashToken = (token: string) => createHash('sha256').update(token).digest();
const USER_COLUMNS = (sql: Db) =>
  sql`id, email, name, role, status, totp_secret is not null as totp, created_at, last_sign_in_at`;

/** Creates an invited user; undefined when the email is taken (any case). */
export async function createUser(
  sql: Db,
  input: { email: string; name?: string | null; role: Role },
): Promise<User | undefined> {
  const [user] = await sql<User[]>`
    insert into users (email, name, role) values (${input.email}, ${input.name ?? null}, ${input.role})
    on conflict (lower(email)) do nothing
    returning ${USER_COLUMNS(sql)}`;
  return user;
}

/** Every user, newest first. */
export async function listUsers(sql: Db): Promise<User[]> {
  return sql<User[]>`select ${USER_COLUMNS(sql)} from users order by id desc`;
}

export async function findUser(sql: Db, id: number): Promise<User | undefined> {
  const [user] = await sql<User[]>`select ${USER_COLUMNS(sql)} from users where id = ${id}`;
  return user;
}

/** A user with what sign-in checks (the password hash and TOTP secret), by email in any case. */
export async function findUserForSignIn(
  sql: Db,
  email: string,
): Promise<(User & { password_hash: string | null; totp_secret: string | null }) | undefined> {
  const [user] = await sql<(User & { password_hash: string | null; totp_secret: string | null })[]>`
    select ${USER_COLUMNS(sql)}, password_hash, totp_secret from users where lower(email) = lower(${email})`;
  return user;
}

/** A new one-use link token for a user (earlier unused ones of the same purpose stop working). */
export async function issueUserToken(
  sql: Db,
  input: { userId: number; purpose: TokenPurpose; now: Date },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const expires = new Date(input.now.getTime() + TOKEN_HOURS[input.purpose] * 3_600_000);
  await sql`update user_tokens set used_at = ${input.now}
    where user_id = ${input.userId} and purpose = ${input.purpose} and used_at is null`;
  await sql`insert into user_tokens (user_id, purpose, token_hash, created_at, expires_at)
    values (${input.userId}, ${input.purpose}, ${hashToken(token)}, ${input.now}, ${expires})`;
  return token;
}

/** The user a live (unused, unexpired) token belongs to, without using it up. */
export async function peekUserToken(
  sql: Db,
  token: string | undefined,
  now: Date,
): Promise<{ tokenId: number; purpose: TokenPurpose; user: User } | undefined> {
  if (!token || token.length > 100) return undefined;
  const [row] = await sql<{ token_id: number; purpose: TokenPurpose; user_id: number }[]>`
    select t.id as token_id, t.purpose, t.user_id from user_tokens t join users u on u.id = t.user_id
    where t.token_hash = ${hashToken(token)} and t.used_at is null and t.expires_at > ${now}
      and u.status <> 'disabled'`;
  if (!row) return undefined;
  const user = await findUser(sql, row.user_id);
  return user ? { tokenId: row.token_id, purpose: row.purpose, user } : undefined;
}

/**
 * Sets a password through a link token: uses the token up (false when it was used meanwhile),
 * activates the user and ends their other sessions (a reset is what one does after a theft).
 */
export async function setPasswordWithToken(
  sql: Sql,
  input: { tokenId: number; userId: number; passwordHash: string; now: Date },
): Promise<boolean> {
  return sql.begin(async (tx) => {
    const used = await tx`update user_tokens set used_at = ${input.now}
      where id = ${input.tokenId} and used_at is null and expires_at > ${input.now} returning id`;
    if (used.length === 0) return false;
    await tx`update users set password_hash = ${input.passwordHash}, status = 'active'
      where id = ${input.userId} and status <> 'disabled'`;
    await tx`update sessions set ended_at = ${input.now}, end_reason = 'password_changed'
      where user_id = ${input.userId} and ended_at is null`;
    return true;
  });
}

/** Notes a sign-in. */
export async function noteSignIn(sql: Db, userId: number, now: Date): Promise<void> {
  await sql`update users set last_sign_in_at = ${now} where id = ${userId}`;
}

/** Disables or re-enables a user; disabling ends their sessions at once. */
export async function setUserStatus(
  sql: Sql,
  input: { userId: number; disabled: boolean; now: Date },
): Promise<User | undefined> {
  return sql.begin(async (tx) => {
    const [user] = await tx<User[]>`
      update users set status = case when ${input.disabled} then 'disabled'
        when password_hash is null then 'invited' else 'active' end
      where id = ${input.userId} returning ${USER_COLUMNS(tx)}`;
    if (user && input.disabled)
      await tx`update sessions set ended_at = ${input.now}, end_reason = 'user_disabled'
        where user_id = ${input.userId} and ended_at is null`;
    return user;
  });
}

/** Changes a user's role; their open sessions take the new role on their next page. */
export async function setUserRole(sql: Db, userId: number, role: Role): Promise<User | undefined> {
  const [user] = await sql<
    User[]
  >`update users set role = ${role} where id = ${userId} returning ${USER_COLUMNS(sql)}`;
  return user;
}

/** Turns the TOTP second factor on (with a secret the user proved they hold) or off. */
export async function setTotpSecret(sql: Db, userId: number, secret: string | null): Promise<void> {
  await sql`update users set totp_secret = ${secret} where id = ${userId}`;
}

/** The open invitation or reset link's expiry per user (for the users page). */
export async function openInvitations(sql: Db): Promise<Map<number, Date>> {
  const rows = await sql<{ user_id: number; expires_at: Date }[]>`
    select user_id, max(expires_at) as expires_at from user_tokens
    where purpose = 'invite' and used_at is null and expires_at > now() group by user_id`;
  return new Map(rows.map((r) => [r.user_id, r.expires_at]));
}

/** An invited person who signed in through the identity provider is active from then on. */
export async function activateInvitedUser(sql: Db, userId: number): Promise<void> {
  await sql`update users set status = 'active' where id = ${userId} and status = 'invited'`;
}
