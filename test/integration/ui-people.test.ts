import { spawn } from 'node:child_process';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { setTotpSecret } from '../../src/users/store.js';
import { newTotpSecret, totpCode, totpStep } from '../../src/users/totp.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { cookieOf, signInToUi } from '../helpers/ui-session.js';

// People in the web UI over app.request: invitations mailed through SMTP, passwords, TOTP,
// resets, and what ends a person's session.

let h: Harness;
let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink({ keepInMemory: true });
  h = await createHarness();
  h.deps.config.SMTP_URL = sink.url;
});
afterAll(async () => {
  await h?.close();
  await sink?.close();
});

const form = (session: string | undefined, fields: Record<string, string>) => ({
  method: 'POST',
  redirect: 'manual' as const,
  headers: {
    ...(session ? { cookie: session } : {}),
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams(fields),
});

/** Posts a public form (sign-in, welcome, reset) with its login token. */
async function postPublic(path: string, fields: Record<string, string>, getPath = path) {
  const page = await h.app.request(getPath);
  const login = cookieOf(page, 'offerflow_login')!;
  return h.app.request(path, form(login, { _login: login.split('=')[1]!, ...fields }));
}

async function lastLinkTo(to: string, kind: 'welcome' | 'reset') {
  for (const raw of [...sink.messages].reverse()) {
    const mail = await simpleParser(raw);
    if (mail.to && !Array.isArray(mail.to) && mail.to.text.includes(to))
      return new URL(new RegExp(`\\S+/ui/${kind}/[\\w-]+`).exec(mail.text ?? '')![0]).pathname;
  }
  throw new Error(`no mail to ${to}`);
}

async function invite(email: string, role = 'marketer') {
  const admin = await signInToUi(h, 'admin');
  const res = await h.app.request('/ui/users', form(admin.session, { _csrf: admin.csrf, email, role }));
  expect(res.status).toBe(200);
  return lastLinkTo(email, 'welcome');
}

const signIn = (email: string, password: string, code?: string) =>
  postPublic('/ui/login', { email, password, ...(code ? { code } : {}) }, '/ui/login');

describe('people', () => {
  it('an invitation mailed by an admin lets its person choose a password once, then sign in', async () => {
    const path = await invite('ana@shop.example', 'analyst');
    const short = await postPublic(path, { password: 'too short' });
    expect(short.status).toBe(422);
    const set = await postPublic(path, { password: 'a long enough passphrase' });
    expect(set.status).toBe(303);
    const session = cookieOf(set, 'offerflow_session')!;
    const home = await h.app.request('/ui', { headers: { cookie: session } });
    expect(await home.text()).toContain('ana@shop.example · analyst');
    expect((await h.app.request(path)).status).toBe(410);
    expect((await postPublic(path, { password: 'another long passphrase' }, '/ui/login')).status).toBe(410);

    expect((await signIn('ana@shop.example', 'a long enough passphrase')).status).toBe(303);
    const wrong = await signIn('ana@shop.example', 'not the passphrase');
    const unknown = await signIn('nobody@shop.example', 'not the passphrase');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    // The same answer whether or not the address has an account.
    const said = (html: string) => /id="sign-in-error">([^<]*)</.exec(html)?.[1];
    expect(said(await wrong.text())).toBe(said(await unknown.text()));
  });

  it('a person with TOTP needs the current code', async () => {
    const path = await invite('tom@shop.example');
    await postPublic(path, { password: 'tom has a long password' });
    const secret = newTotpSecret();
    const [user] = await h.db.sql<{ id: number }[]>`select id from users where email = 'tom@shop.example'`;
    await setTotpSecret(h.db.sql, user!.id, secret);
    expect((await signIn('tom@shop.example', 'tom has a long password')).status).toBe(401);
    expect((await signIn('tom@shop.example', 'tom has a long password', '000000')).status).toBe(401);
    const code = totpCode(secret, totpStep(new Date()));
    expect((await signIn('tom@shop.example', 'tom has a long password', code)).status).toBe(303);
  });

  it('disabling a person ends their open session at once', async () => {
    const path = await invite('eve@shop.example');
    const set = await postPublic(path, { password: 'eve is about to leave' });
    const session = cookieOf(set, 'offerflow_session')!;
    expect((await h.app.request('/ui/segments', { headers: { cookie: session } })).status).toBe(200);
    const [user] = await h.db.sql<{ id: number }[]>`select id from users where email = 'eve@shop.example'`;
    const admin = await signInToUi(h, 'admin');
    const res = await h.app.request(
      `/ui/users/${user!.id}/disable`,
      form(admin.session, { _csrf: admin.csrf }),
    );
    expect(res.status).toBe(200);
    const after = await h.app.request('/ui/segments', { redirect: 'manual', headers: { cookie: session } });
    expect(after.status).toBe(303);
    expect((await signIn('eve@shop.example', 'eve is about to leave')).status).toBe(401);
    const [ended] = await h.db.sql`select end_reason from sessions where user_id = ${user!.id}`;
    expect(ended!.end_reason).toBe('user_disabled');
  });

  it('a reset link mailed on request sets a new password and ends the old sessions', async () => {
    const path = await invite('rob@shop.example');
    const first = cookieOf(await postPublic(path, { password: 'rob forgot this one' }), 'offerflow_session')!;
    const asked = await postPublic('/ui/reset', { email: 'rob@shop.example' });
    expect(asked.status).toBe(200);
    const unknown = await postPublic('/ui/reset', { email: 'nobody@shop.example' });
    expect(await unknown.text()).toContain('If that address has an account');
    const reset = await lastLinkTo('rob@shop.example', 'reset');
    expect((await postPublic(reset, { password: 'rob remembers this one' })).status).toBe(303);
    expect(
      (await h.app.request('/ui/segments', { redirect: 'manual', headers: { cookie: first } })).status,
    ).toBe(303);
    expect((await signIn('rob@shop.example', 'rob forgot this one')).status).toBe(401);
    expect((await signIn('rob@shop.example', 'rob remembers this one')).status).toBe(303);
  });

  it('an invitation link of one person cannot be used as a reset, and only admins reach the admin pages', async () => {
    const path = await invite('zoe@shop.example');
    expect((await h.app.request(path.replace('/welcome/', '/reset/'))).status).toBe(410);
    const marketer = await signInToUi(h, 'marketer');
    for (const p of ['/ui/users', '/ui/keys', '/ui/attributes', '/ui/audit', '/ui/senders', '/ui/holdouts'])
      expect((await h.app.request(p, { headers: { cookie: marketer.session } })).status).toBe(403);
    const taken = await signInToUi(h, 'admin');
    const again = await h.app.request(
      '/ui/users',
      form(taken.session, { _csrf: taken.csrf, email: 'ZOE@shop.example', role: 'sales' }),
    );
    expect(again.status).toBe(409);
  });

  it('offerflow users create prints a link that signs the first admin in', async () => {
    const out = await new Promise<string>((resolve) => {
      const child = spawn(
        process.execPath,
        ['bin/offerflow.js', 'users', 'create', '--email', 'first@shop.example', '--role', 'admin'],
        {
          env: { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: h.db.url },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.on('close', () => resolve(text));
    });
    const link = out.trim().split('\n').at(-1)!;
    expect(link).toMatch(/\/ui\/welcome\//);
    const set = await postPublic(new URL(link).pathname, { password: 'the very first admin' });
    expect(set.status).toBe(303);
    const session = cookieOf(set, 'offerflow_session')!;
    expect((await h.app.request('/ui/users', { headers: { cookie: session } })).status).toBe(200);
  });
});
