import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../helpers/cli.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// `offerflow senders` and the production check, run as a user would.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('offerflow senders', () => {
  it('prints the SPF, DKIM and DMARC records to publish for a sender', async () => {
    const sender = await json(
      await h.post('/v1/senders', {
        from_address: 'news@mail.shop.example',
        dkim_domain: 'shop.example',
        dkim_selector: 'k1',
      }),
    );
    const out = await run(['senders', 'dns', String(sender.id)], { DATABASE_URL: h.db.url });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('mail.shop.example. IN TXT "v=spf1');
    expect(out.stdout).toContain(
      `k1._domainkey.shop.example. IN TXT "v=DKIM1; k=rsa; p=${sender.dkim_public_key}"`,
    );
    expect(out.stdout).toContain('_dmarc.shop.example. IN TXT "v=DMARC1; p=none');
    const listed = await run(['senders', 'list'], { DATABASE_URL: h.db.url });
    expect(listed.stdout).toMatch(
      new RegExp(`^${sender.id}\\tdefault\\tnews@mail.shop.example\\td=shop.example s=k1$`, 'm'),
    );
  });

  it('creates a sender, refusing one whose From is not aligned with its DKIM domain', async () => {
    const bad = await run(
      ['senders', 'create', '--from', 'a@other.example', '--dkim-domain', 'shop.example'],
      {
        DATABASE_URL: h.db.url,
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('dkim_domain: the From domain other.example is not aligned');
    const ok = await run(
      ['senders', 'create', '--from', 'hi@shop.example', '--name', 'Shop', '--dkim-domain', 'shop.example'],
      {
        DATABASE_URL: h.db.url,
      },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('offerflow._domainkey.shop.example. IN TXT "v=DKIM1; k=rsa; p=');
  });
});

describe('production', () => {
  it('refuses to start with an http PUBLIC_URL, saying why', async () => {
    const out = await run(['serve'], {
      NODE_ENV: 'production',
      PUBLIC_URL: 'http://crm.example.com',
      DATABASE_URL: h.db.url,
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('PUBLIC_URL: must be an https:// URL in production');
  });
});
