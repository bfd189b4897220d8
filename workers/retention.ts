import type { Job } from 'bullmq';
import type { Config } from '../src/config.js';
import { ensureMonthlyPartitions, PARTITIONED_TABLES } from '../src/db/partitions.js';
import type { Sql } from '../src/db/sql.js';
import { pruneReceipts } from '../src/inbound/store.js';
import { applyRetention, type RetentionResult } from '../src/privacy/retention.js';

/** The repeat options of the retention queue's one daily job (BullMQ upsertJobScheduler / repeat). */
export const RETENTION_SCHEDULE = { every: 24 * 60 * 60 * 1000 } as const;

/**
 * Months of contact_events partitions kept ready after the current one. A daily job with three
 * months of margin survives weeks of the retention worker being down; the default partition
 * catches anything beyond that.
 */
export const PARTITION_MONTHS_AHEAD = 3;

/** The retention queue's processor: the months ahead of the history, then the retention periods. */
export const retentionProcessor =
  (deps: {
    sql: Sql;
    config: Pick<Config, 'RETENTION_EVENTS_DAYS' | 'RETENTION_INACTIVE_DAYS'> &
      Partial<Pick<Config, 'RETENTION_INBOUND_RECEIPTS_DAYS'>>;
    clock: () => Date;
  }) =>
  async (
    _job: Job,
  ): Promise<RetentionResult & { partitions_created: string[]; inbound_receipts_pruned: number }> => {
    const now = deps.clock();
    const partitions_created: string[] = [];
    for (const table of PARTITIONED_TABLES) {
      partitions_created.push(
        ...(await ensureMonthlyPartitions(deps.sql, table, PARTITION_MONTHS_AHEAD, now)),
      );
    }
    // Replay protection only needs receipts as old as the providers' retry windows.
    const receiptDays = deps.config.RETENTION_INBOUND_RECEIPTS_DAYS ?? 30;
    const inbound_receipts_pruned =
      receiptDays > 0 ? await pruneReceipts(deps.sql, new Date(now.getTime() - receiptDays * 86_400_000)) : 0;
    return {
      ...(await applyRetention(deps.sql, deps.config, now)),
      partitions_created,
      inbound_receipts_pruned,
    };
  };
