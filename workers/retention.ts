import type { Job } from 'bullmq';
import type { Config } from '../src/config.js';
import { ensureMonthlyPartitions } from '../src/db/partitions.js';
import type { Sql } from '../src/db/sql.js';
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
    config: Pick<Config, 'RETENTION_EVENTS_DAYS' | 'RETENTION_INACTIVE_DAYS'>;
    clock: () => Date;
  }) =>
  async (_job: Job): Promise<RetentionResult & { partitions_created: string[] }> => {
    const now = deps.clock();
    const partitions_created = await ensureMonthlyPartitions(
      deps.sql,
      'contact_events',
      PARTITION_MONTHS_AHEAD,
      now,
    );
    return { ...(await applyRetention(deps.sql, deps.config, now)), partitions_created };
  };
