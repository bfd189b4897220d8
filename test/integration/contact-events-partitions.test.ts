import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import {
  detachMonthlyPartitionsBefore,
  ensureMonthlyPartitions,
  listMonthlyPartitions,
} from '../../src/db/partitions.js';
import { createSql, type Sql } from '../../src/db/sql.js';
import { scopeReport } from '../../src/reports/report-core.js';
import { retentionProcessor } from '../../workers/retention.js';
import { runCli as run } from '../helpers/cli.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { ADMIN_URL, urlFor } from '../helpers/test-db.js';

const PARTITIONING = 23; // migrations/0023_contact_events_partitioned.sql

/** A database migrated up to (not including) the partitioning migration. */
async function databaseBeforePartitioning(): Promise<{ sql: Sql; drop: () => Promise<void> }> {
  const name = `offerflow_t_part_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const admin = createSql(ADMIN_URL, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  await admin.end({ timeout: 5 });
  const dir = await mkdtemp(join(tmpdir(), 'offerflow-migrations-'));
  for (const file of (await readdir(MIGRATIONS_DIR)).sort()) {
    if (Number(file.slice(0, 4)) < PARTITIONING) await copyFile(join(MIGRATIONS_DIR, file), join(dir, file));
  }
  const sql = createSql(urlFor(name), { max: 3, idleTimeout: 2 });
  await migrate(sql, dir);
  await rm(dir, { recursive: true });
  return {
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 });
      const a = createSql(ADMIN_URL, { max: 1 });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end({ timeout: 5 });
    },
  };
}

describe('migration 0023 on a populated contact_events', () => {
  let db: { sql: Sql; drop: () => Promise<void> };
  beforeAll(async () => {
    db = await databaseBeforePartitioning();
  });
  afterAll(async () => db.drop());

  it('keeps every row, id, key and report total, and the table becomes monthly partitions', async () => {
    const { sql } = db;
    const [campaign] = await sql<
      { id: number }[]
    >`insert into campaigns (name, status) values ('Spring', 'sent') returning id`;
    const customers = await sql<{ id: number }[]>`
      insert into customers (external_id) select 'p' || g from generate_series(1, 30) g returning id`;
    const messages: number[] = [];
    for (const [i, c] of customers.entries()) {
      const [m] = await sql<{ id: number }[]>`
        insert into messages (campaign_id, customer_id, variant, status, sent_at)
        values (${campaign!.id}, ${c.id}, ${i % 2 ? 'B' : 'A'}, 'sent', '2025-01-15T10:00:00Z') returning id`;
      messages.push(m!.id);
    }
    // Events spread over fourteen months, keyed ones of every kind included.
    await sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id, data, at, machine)
      select c.id, k.kind, m.id, ${campaign!.id},
        case when k.kind = 'converted' then jsonb_build_object('revenue', 10 + c.n, 'currency', 'EUR', 'order_ref', 'o' || c.n)
             else '{}'::jsonb end,
        timestamptz '2025-01-15T10:00:00Z' + (c.n % 14) * interval '1 month' + k.off * interval '1 hour', false
      from (select id, row_number() over (order by id) as n from customers) c
      join messages m on m.customer_id = c.id
      cross join (values ('sent', 0), ('opened', 1), ('clicked', 2), ('converted', 3)) as k(kind, off)
      where k.kind <> 'converted' or c.n % 3 = 0`;
    await sql`
      insert into contact_events (customer_id, kind, text, data, at)
      select id, 'note', 'called', jsonb_build_object('client_ref', 'ref-' || id), '2025-06-01T08:00:00Z' from customers`;
    await sql`
      insert into contact_events (customer_id, kind, message_id, event_key, at)
      values (${customers[0]!.id}, 'opened', ${messages[0]!}, '0190a1b2-0000-7000-8000-000000000001', '2025-03-01T00:00:00Z')`;

    const before =
      await sql`select id, customer_id, kind, at, data, event_key from contact_events order by id`;
    // The report core (totals, variants) over the schema of 0022: the campaign report's later
    // sections read columns of later migrations.
    const reportBefore = await scopeReport(sql, { campaign_id: campaign!.id }, { includeMachine: false });
    const [maxBefore] = await sql<{ max: number }[]>`select max(id)::int as max from contact_events`;

    await migrate(sql);

    const [kind] = await sql<
      { relkind: string }[]
    >`select relkind from pg_class where relname = 'contact_events'`;
    expect(kind!.relkind).toBe('p');
    const after =
      await sql`select id, customer_id, kind, at, data, event_key from contact_events order by id`;
    expect(after).toEqual(before);
    const reportAfter = await scopeReport(sql, { campaign_id: campaign!.id }, { includeMachine: false });
    expect(reportAfter.totals).toEqual(reportBefore.totals);
    expect(reportAfter.variants).toEqual(reportBefore.variants);
    expect(reportBefore.totals.conversions).toBe(10);

    // Every month with events has its own partition; the default partition holds nothing.
    const months = (await listMonthlyPartitions(sql, 'contact_events')).map((p) => p.month);
    for (let i = 0; i < 14; i++) {
      const d = new Date(Date.UTC(2025, i, 1));
      expect(months).toContain(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
    }
    const [{ n } = { n: -1 }] = await sql<
      { n: number }[]
    >`select count(*)::int as n from contact_events_default`;
    expect(n).toBe(0);

    // The id sequence continues after the old rows.
    const [next] = await sql<{ id: number }[]>`
      insert into contact_events (customer_id, kind) values (${customers[0]!.id}, 'note') returning id`;
    expect(next!.id).toBeGreaterThan(maxBefore!.max);

    // The keys stay unique across partitions, whatever `at` a retry carries.
    const dupNote = await sql`
      insert into contact_events (customer_id, kind, data, at)
      values (${customers[0]!.id}, 'note', ${sql.json({ client_ref: `ref-${customers[0]!.id}` })}, '2025-11-02T00:00:00Z')
      on conflict do nothing returning id`;
    expect(dupNote).toHaveLength(0);
    const dupOrder = await sql`
      insert into contact_events (customer_id, kind, message_id, data, at)
      values (${customers[2]!.id}, 'converted', ${messages[2]!}, ${sql.json({ revenue: 1, order_ref: 'o3' })}, now())
      returning id`;
    expect(dupOrder).toHaveLength(0);
    await expect(
      sql`insert into contact_events (customer_id, kind, message_id, event_key, at)
        values (${customers[0]!.id}, 'opened', ${messages[0]!}, '0190a1b2-0000-7000-8000-000000000001', '2025-03-01T00:00:00Z')`,
    ).rejects.toMatchObject({ code: '23505' });
  });
});

describe('partition maintenance', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => h.close());

  it('an insert far in the future lands in the default partition, then moves into its month', async () => {
    const sql = h.db.sql;
    const [c] = await sql<
      { id: number }[]
    >`insert into customers (external_id) values ('future') returning id`;
    const at = new Date(Date.UTC(2031, 4, 20, 12));
    const [row] = await sql<{ id: number }[]>`
      insert into contact_events (customer_id, kind, data, at)
      values (${c!.id}, 'note', ${sql.json({ client_ref: 'far' })}, ${at}) returning id`;
    const [where] = await sql<
      { t: string }[]
    >`select tableoid::regclass::text as t from contact_events where id = ${row!.id}`;
    expect(where!.t).toBe('contact_events_default');

    const created = await ensureMonthlyPartitions(sql, 'contact_events', 1, new Date(Date.UTC(2031, 4, 3)));
    expect(created).toEqual(['contact_events_p203105', 'contact_events_p203106']);
    const [moved] = await sql<{ t: string; id: number }[]>`
      select tableoid::regclass::text as t, id from contact_events where customer_id = ${c!.id}`;
    expect(moved).toEqual({ t: 'contact_events_p203105', id: row!.id });
    // Idempotent; the moved row's key still holds.
    expect(await ensureMonthlyPartitions(sql, 'contact_events', 1, new Date(Date.UTC(2031, 4, 3)))).toEqual(
      [],
    );
    const again = await sql`
      insert into contact_events (customer_id, kind, data) values (${c!.id}, 'note', ${sql.json({ client_ref: 'far' })})
      returning id`;
    expect(again).toHaveLength(0);
  });

  it('erasure and the timeline reach every partition; detached months leave the table', async () => {
    const sql = h.db.sql;
    const created = await h.post('/v1/customers', { external_id: 'spread', email: 'spread@example.com' });
    const id = (await json(created)).id as number;
    await ensureMonthlyPartitions(sql, 'contact_events', 0, new Date(Date.UTC(2024, 0, 10)));
    await ensureMonthlyPartitions(sql, 'contact_events', 0, new Date(Date.UTC(2024, 5, 10)));
    for (const at of ['2024-01-10T10:00:00Z', '2024-06-10T10:00:00Z', new Date().toISOString()]) {
      await sql`insert into contact_events (customer_id, kind, text, author, at)
        values (${id}, 'note', 'lives at 1 Main St', 'agent', ${at})`;
    }
    const parts = await sql<{ t: string }[]>`
      select distinct tableoid::regclass::text as t from contact_events where customer_id = ${id}`;
    expect(parts.length).toBe(3);
    const timeline = await json(await h.get(`/v1/customers/${id}/timeline`, { role: 'sales' }));
    expect(timeline.data.filter((e: { kind: string }) => e.kind === 'note')).toHaveLength(3);

    expect((await h.delete(`/v1/customers/${id}`)).status).toBe(204);
    const left = await sql`select text, author from contact_events where customer_id = ${id}`;
    expect(left).toHaveLength(3);
    expect(left.every((e) => e.text === null && e.author === null)).toBe(true);

    const detached = await detachMonthlyPartitionsBefore(
      sql,
      'contact_events',
      new Date(Date.UTC(2024, 2, 1)),
    );
    expect(detached.map((p) => p.name)).toContain('contact_events_p202401');
    expect(detached.every((p) => p.to <= new Date(Date.UTC(2024, 2, 1)))).toBe(true);
    const [{ n } = { n: -1 }] = await sql<{ n: number }[]>`
      select count(*)::int as n from contact_events where customer_id = ${id}`;
    expect(n).toBe(2);
    const [{ kept } = { kept: -1 }] = await sql<{ kept: number }[]>`
      select count(*)::int as kept from contact_events_p202401 where customer_id = ${id}`;
    expect(kept).toBe(1);
  });

  it('the retention worker creates the months ahead', async () => {
    const processor = retentionProcessor({
      sql: h.db.sql,
      config: { RETENTION_EVENTS_DAYS: 0, RETENTION_INACTIVE_DAYS: 0 },
      clock: () => new Date(Date.UTC(2033, 10, 5)),
    });
    const result = await processor({} as never);
    expect(result.partitions_created).toEqual([
      'contact_events_p203311',
      'contact_events_p203312',
      'contact_events_p203401',
      'contact_events_p203402',
      // The custom events table (migrations/0027) is kept the same way.
      'events_p203311',
      'events_p203312',
      'events_p203401',
      'events_p203402',
    ]);
  });

  it('offerflow partitions list | detach --before YYYY-MM', async () => {
    const env = { DATABASE_URL: h.db.url };
    await ensureMonthlyPartitions(h.db.sql, 'contact_events', 0, new Date(Date.UTC(2023, 6, 1)));
    const listed = await run(['partitions', 'list'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^2023-07\tcontact_events_p202307\t/m);
    expect(listed.stdout).toMatch(/^default\tcontact_events_default\t/m);

    const bad = await run(['partitions', 'detach', '--before', '2023-13'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--before must be a month as YYYY-MM');
    const missing = await run(['partitions', 'detach'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--before YYYY-MM');

    const detached = await run(['partitions', 'detach', '--before', '2023-08'], env);
    expect(detached.code, detached.stderr).toBe(0);
    expect(detached.stdout).toContain('detached contact_events_p202307 (2023-07)');
    const after = await run(['partitions', 'list'], env);
    expect(after.stdout).not.toContain('contact_events_p202307');
  });
});
