import type { Job } from 'bullmq';
import type { Config } from '../src/config.js';
import type { Sql } from '../src/db/sql.js';
import { applyRetention, type RetentionResult } from '../src/privacy/retention.js';

/** The repeat options of the retention queue's one daily job (BullMQ upsertJobScheduler / repeat). */
export const RETENTION_SCHEDULE = { every: 24 * 60 * 60 * 1000 } as const;

/** The retention queue's processor. */
export const retentionProcessor =
  (deps: {
    sql: Sql;
    config: Pick<Config, 'RETENTION_EVENTS_DAYS' | 'RETENTION_INACTIVE_DAYS'>;
    clock: () => Date;
  }) =>
  (_job: Job): Promise<RetentionResult> =>
    applyRetention(deps.sql, deps.config, deps.clock());
