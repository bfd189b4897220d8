import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/db/sql.js';
import { runDueStep } from '../../src/journeys/runner.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// The journey runner against real PostgreSQL: how many statements a due step costs.

let h: Harness;
let shop: ShopFixture;
let counted: Sql;
let statements = 0;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 120, h.deps.config.OFFERFLOW_SECRET);
  counted = createSql(h.db.url, {
    max: 5,
    idleTimeout: 2,
    debug: (_c, q) => {
      statements++;
      if (process.env.SHOW_SQL) console.log(q.replace(/\s+/g, ' ').slice(0, 110));
    },
  });
}, 60_000);
afterAll(async () => {
  await counted?.end();
  await h?.close();
});

let serial = 0;

/** A journey wait → branch → send_email → exit with `customers` already at the wait, due now. */
async function journeyAtWait(customers: readonly number[]) {
  serial += 1;
  const definition = {
    entry: { event: `batch_${serial}` },
    re_entry: 'never',
    goal: null,
    start: 'wait',
    steps: [
      { id: 'wait', type: 'wait', seconds: 1, next: 'spend' },
      {
        id: 'spend',
        type: 'branch',
        rule: { '>=': [{ var: 'customer.total_spent' }, 100] },
        then: 'mail',
        else: 'mail',
      },
      { id: 'mail', type: 'send_email', template_id: shop.templateId, template_version: 1, next: 'end' },
      { id: 'end', type: 'exit' },
    ],
  };
  const sql = h.db.sql;
  const [journey] = await sql<{ id: number }[]>`
    insert into journeys (name, status) values (${`batch ${serial}`}, 'active') returning id`;
  const [version] = await sql<{ id: number }[]>`
    insert into journey_versions (journey_id, version, definition, activated_at)
    values (${journey!.id}, 1, ${sql.json(definition as never)}, now()) returning id`;
  await sql`update journeys set version_id = ${version!.id} where id = ${journey!.id}`;
  const entries = await sql<{ id: number; seq: number }[]>`
    insert into journey_entries (journey_id, version_id, customer_id, entry_key, step, seq, since, entered_at, next_run_at)
    select ${journey!.id}, ${version!.id}, c, 'k', 'wait', 1, now() - interval '2 seconds', now() - interval '2 seconds',
      now() - interval '1 second'
    from unnest(${customers as number[]}::bigint[]) c order by c
    returning id, seq`;
  return { journeyId: journey!.id, entries };
}

describe('journey runner round trips', () => {
  it('profiles one due step', async () => {
    const ids = [...shop.eligible.keys()].slice(0, 1);
    const { entries } = await journeyAtWait(ids);
    statements = 0;
    const result = await runDueStep(
      { ...h.deps, sql: counted, jobs: undefined },
      { entry_id: entries[0]!.id, seq: 1 },
    );
    expect(result).toMatchObject({ outcome: 'ran', steps: 4, status: 'completed' });
    // The profile written down in docs/architecture.md (Journeys): 11 in the transaction.
    expect(statements).toBeLessThanOrEqual(15);
  });
});
