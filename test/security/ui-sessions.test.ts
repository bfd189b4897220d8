import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApiKey, revokeApiKey } from '../../src/http/api-keys.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { signInWithKey } from '../helpers/ui-login.js';

// Sign-out ends the session on the server: the cookie is a handle to a `sessions` row, so a
// copy of it (another browser, a stolen cookie) stops working at sign-out, when the key it was
// made with is revoked, and after SESSION_IDLE_MINUTES without a request.

let h: Harness;
let now = new Date('2026-06-01T08:00:00Z');
const IDLE_MINUTES = 5;

beforeAll(async () => {
  h = await createHarness({
    clock: () => now,
    config: loadConfig({
      ...process.env,
      LOG_LEVEL: 'silent',
      SESSION_IDLE_MINUTES: String(IDLE_MINUTES),
      SESSION_MAX_HOURS: '1',
    } as Record<string, string>),
  });
});
afterAll(async () => h.close());

const request = (path: string, init?: RequestInit) => h.app.request(path, init);
const minutes = (n: number) => {
  now = new Date(now.getTime() + n * 60_000);
};

async function signIn(key: string) {
  const signedIn = await signInWithKey(request, key, '/ui/customers');
  expect(signedIn.status).toBe(303);
  return { cookie: signedIn.session!, csrf: signedIn.csrf! };
}

/** Whether a cookie still opens the customer search (a dead one is sent to the sign-in page). */
async function opens(cookie: string): Promise<boolean> {
  const res = await request('/ui/customers', { headers: { cookie }, redirect: 'manual' });
  if (res.status === 200) return true;
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toContain('/ui/login');
  return false;
}

const signOut = (cookie: string, csrf: string) =>
  request('/ui/logout', {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf }),
  });

describe('UI sessions are server-side', () => {
  it('a copied cookie stops working once its session signs out; other sessions live on', async () => {
    const key = await h.keyFor('sales');
    const mine = await signIn(key);
    const other = await signIn(key);
    const copied = mine.cookie; // what an attacker lifted from the browser
    expect(await opens(copied)).toBe(true);
    // The cookie is a random handle, not the key nor anything derived from it in the table.
    expect(copied).not.toContain(key);
    const stored = await h.db.sql`select token_hash, api_key_id, user_id from sessions`;
    expect(stored).toHaveLength(2);
    for (const row of stored) {
      expect(Buffer.from(row.token_hash).toString('base64url')).not.toBe(copied.split('=')[1]);
      expect(row.user_id).toBeNull();
    }

    const out = await signOut(mine.cookie, mine.csrf);
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/ui/login');
    expect(await opens(copied)).toBe(false);
    // Nor does it reach any page or write.
    const card = await request('/ui/customers/1', { headers: { cookie: copied }, redirect: 'manual' });
    expect(card.status).toBe(303);
    const post = await request('/ui/segments', {
      method: 'POST',
      headers: { cookie: copied, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: mine.csrf, name: 'x', rule: '{"==":[1,1]}' }),
    });
    expect(post.status).toBe(401);
    expect(await opens(other.cookie)).toBe(true);
    const [ended] = await h.db.sql`select end_reason from sessions where ended_at is not null`;
    expect(ended).toEqual({ end_reason: 'signed_out' });
    // Signing out again with the dead cookie is harmless.
    expect((await signOut(mine.cookie, mine.csrf)).status).toBe(303);
  });

  it('revoking the key ends every session made with it', async () => {
    const { key, record } = await createApiKey(h.db.sql, { name: 'temp', role: 'marketer' });
    const a = await signIn(key);
    const b = await signIn(key);
    expect(await opens(a.cookie)).toBe(true);
    expect(await revokeApiKey(h.db.sql, record.id)).toBe(true);
    expect(await opens(a.cookie)).toBe(false);
    expect(await opens(b.cookie)).toBe(false);
    const rows = await h.db.sql`select end_reason from sessions where api_key_id = ${record.id}`;
    expect(rows.map((r) => r.end_reason)).toEqual(['key_revoked', 'key_revoked']);
  });

  it('ends after SESSION_IDLE_MINUTES without a request, and activity keeps it alive', async () => {
    const { cookie } = await signIn(await h.keyFor('admin'));
    for (let i = 0; i < 4; i++) {
      minutes(IDLE_MINUTES - 1);
      expect(await opens(cookie)).toBe(true);
    }
    minutes(IDLE_MINUTES + 1);
    expect(await opens(cookie)).toBe(false);
    // Once ended it stays ended, however soon it is tried again.
    expect(await opens(cookie)).toBe(false);
    const [row] = await h.db.sql`select end_reason from sessions order by id desc limit 1`;
    expect(row).toEqual({ end_reason: 'idle' });
  });

  it('ends SESSION_MAX_HOURS after sign-in however active, and refuses a forged cookie', async () => {
    const { cookie } = await signIn(await h.keyFor('admin'));
    const hours = h.deps.config.SESSION_MAX_HOURS;
    const signedInAt = now.getTime();
    // A request every few minutes, up to just before the end.
    while (now.getTime() + IDLE_MINUTES * 60_000 < signedInAt + hours * 3_600_000) {
      minutes(IDLE_MINUTES - 1);
      expect(await opens(cookie)).toBe(true);
    }
    minutes(IDLE_MINUTES);
    expect(await opens(cookie)).toBe(false);
    expect(await opens('offerflow_session=forged-token-value')).toBe(false);
    expect(await opens(`offerflow_session=${'x'.repeat(500)}`)).toBe(false);
  });
});
