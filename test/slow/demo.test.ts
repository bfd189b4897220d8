import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { runDemo } from '../../src/demo/run.js';
import { verifyDkim } from '../helpers/dkim.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-db.js';

// The README's main job, `npm run demo`, on a fresh database: seeded shop, the A/B campaign,
// simulated opens, clicks and purchases, their conversions and thank-you emails. Run twice, as
// a user would: the second run finds the shop and the trigger and does the same again.

let db: TestDatabase;
const outbox = mkdtempSync(join(tmpdir(), 'offerflow-demo-'));
beforeAll(async () => {
  db = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await db?.drop();
  rmSync(outbox, { recursive: true, force: true });
});

async function demo() {
  const lines: string[] = [];
  const config = {
    ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>),
    DATABASE_URL: db.url,
  };
  const result = await runDemo({ config, outboxDir: outbox, out: (line) => lines.push(line) });
  return { result, text: lines.join('\n') };
}

describe('npm run demo', () => {
  it('sends the campaign, attributes the purchases and sends their thank-you emails, twice in a row', async () => {
    for (const run of [1, 2]) {
      const { result, text } = await demo();
      expect(result.sent).toBeGreaterThan(500);
      expect(text).toContain(run === 1 ? 'seeded 1000 customers' : 'sample shop already seeded');
      const purchases = Number(/and (\d+) purchases through/.exec(text)?.[1]);
      expect(purchases).toBeGreaterThan(0);
      // Every purchase fired the thank-you trigger once, and its email went out.
      expect(text).toContain(
        `Automated "Demo: thank you for your order": ${purchases} purchases fired it, ${purchases} emails sent`,
      );
      // Each purchase follows a click: all are conversions in the campaign's report.
      expect(text).toMatch(
        new RegExp(`Report: sent ${result.sent}, .*conversions ${purchases}, revenue \\d+`),
      );
      // The abandoned-cart journey: three of six shoppers order within the wait, three get a reminder.
      expect(text).toContain(
        'Journey "Demo: abandoned cart": 6 carts entered it, 3 ordered within the wait (nothing sent), 3 reminders sent',
      );
      expect(result.sampleEml).not.toBeNull();
    }
    const [triggers] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from triggers where name = 'Demo: thank you for your order'`;
    expect(triggers!.n).toBe(1);
    expect(readdirSync(outbox).length).toBeGreaterThan(1000);
  });

  it('mails as receivers expect them: DKIM-signed with the demo key, list headers, lang, images it serves', async () => {
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>);
    const [sender] = await db.sql<{ dkim_public_key: string; dkim_selector: string }[]>`
      select dkim_public_key, dkim_selector from senders where from_address = 'offers@shop.example'`;
    const records = {
      [`${sender!.dkim_selector}._domainkey.shop.example`]: `v=DKIM1; k=rsa; p=${sender!.dkim_public_key}`,
    };
    const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    const app = createApp({
      sql: db.sql,
      config: { ...config, DATABASE_URL: db.url },
      logger: pino({ level: 'silent' }),
      clock: () => new Date(),
    });
    let automated = 0;
    for (const file of files.slice(0, 40).concat(files.slice(-40))) {
      const raw = readFileSync(join(outbox, file));
      const mail = await simpleParser(raw);
      const [result] = await verifyDkim(raw, records);
      expect(result!.status.result, file).toBe('pass');
      expect(result!.signingHeaders.keys.toLowerCase()).toContain('list-unsubscribe-post');
      expect(
        mail.headerLines.some((l) => l.key === 'list-id'),
        file,
      ).toBe(true);
      expect(mail.headers.get('feedback-id')).toMatch(/^(c|t)\d+:(campaign|automated):s\d+$/);
      if (mail.headers.get('auto-submitted') === 'auto-generated') automated++;
      expect(mail.html).toMatch(/<html[^>]* lang="[a-z]{2}"/);
      for (const [, src] of (mail.html as string).matchAll(/<img src="([^"]+)"[^>]*>/g)) {
        const url = new URL(src!);
        expect(url.hostname).not.toMatch(/\.(example|test|invalid)$/);
        if (!url.pathname.startsWith('/demo/img/')) continue;
        const image = await app.request(url.pathname);
        expect(image.status, src).toBe(200);
        expect(image.headers.get('content-type')).toBe('image/png');
      }
      expect(mail.html).toMatch(/<img src="[^"]+\/demo\/img\/[a-z0-9-]+\.png"[^>]* width="550" height="275"/);
    }
    expect(automated).toBeGreaterThan(0);
  });
});
