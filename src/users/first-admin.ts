import type { Db } from '../db/sql.js';
import type { Role } from '../http/roles.js';
import { accountLink } from './account-mail.js';
import { createUser, findUserForSignIn, issueUserToken } from './store.js';

/**
 * A user of `email` (made when missing, with `role`) and a link to choose their password: the
 * command line's way in for the first admin, who has nobody to invite them. An existing user
 * who has a password gets a reset link instead.
 */
export async function userWithLink(
  sql: Db,
  config: { PUBLIC_URL: string },
  input: { email: string; role: Role; name?: string | null; now: Date },
): Promise<{ created: boolean; userId: number; role: Role; url: string }> {
  const made = await createUser(sql, input);
  const existing = made ? undefined : await findUserForSignIn(sql, input.email);
  const user = (made ?? existing)!;
  const purpose = made || existing?.password_hash === null ? 'invite' : 'reset';
  const token = await issueUserToken(sql, { userId: user.id, purpose, now: input.now });
  return {
    created: made !== undefined,
    userId: user.id,
    role: user.role,
    url: accountLink(config, purpose, token),
  };
}
