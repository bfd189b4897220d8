import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { runDemo } from '../../src/demo/run.js';
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
      expect(result.sampleEml).not.toBeNull();
    }
    const [triggers] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from triggers where name = 'Demo: thank you for your order'`;
    expect(triggers!.n).toBe(1);
    expect(readdirSync(outbox).length).toBeGreaterThan(1000);
  });
});
