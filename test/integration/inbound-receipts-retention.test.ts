import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimReceipt, hasReceipt } from '../../src/inbound/store.js';
import { retentionProcessor } from '../../workers/retention.js';
import { createHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

describe('inbound receipts retention', () => {
  it('prunes receipts older than the configured window and keeps recent ones', async () => {
    const sql = h.db.sql;
    await claimReceipt(sql, 'sendgrid', 'old-event');
    await claimReceipt(sql, 'sendgrid', 'recent-event');
    await sql`update inbound_receipts set received_at = now() - interval '31 days' where event_id = 'old-event'`;
    await sql`update inbound_receipts set received_at = now() - interval '29 days' where event_id = 'recent-event'`;
    const run = (days: number) =>
      retentionProcessor({
        sql,
        config: {
          RETENTION_EVENTS_DAYS: 0,
          RETENTION_INACTIVE_DAYS: 0,
          RETENTION_INBOUND_RECEIPTS_DAYS: days,
        },
        clock: () => new Date(),
      })({} as never);

    expect((await run(0)).inbound_receipts_pruned).toBe(0);
    expect(await hasReceipt(sql, 'sendgrid', 'old-event')).toBe(true);

    expect((await run(30)).inbound_receipts_pruned).toBe(1);
    expect(await hasReceipt(sql, 'sendgrid', 'old-event')).toBe(false);
    expect(await hasReceipt(sql, 'sendgrid', 'recent-event')).toBe(true);

    // A shorter window reaches the other one; a second run has nothing left to do.
    expect((await run(7)).inbound_receipts_pruned).toBe(1);
    expect((await run(7)).inbound_receipts_pruned).toBe(0);
  });
});
