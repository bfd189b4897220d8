import type { Logger } from 'pino';
import type { Sql } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { AppError } from '../http/problem.js';
import type { OptInPolicy } from '../opt-in/requests.js';
import {
  customerCreatedEvents,
  hasEnabledTriggers,
  purchaseEvents,
  type RecordedTriggerEvents,
  releaseTriggerEvents,
} from '../triggers/events.js';
import { importCustomerCsv } from './customers-import.js';
import { historyCutoff, recentOnly, type TriggerMode } from './history.js';
import type { ImportKind } from './mapping.js';
import { importProductCsv } from './products-import.js';
import { type ImportProgress, importPurchaseCsv } from './purchases-import.js';
import { openCsv, type ReadOptions } from './source.js';
import { finishImport, type ImportRow, insertImport, readChunks, startImport } from './store.js';

export interface ImportDeps {
  sql: Sql;
  jobs?: JobDispatcher | undefined;
  clock: () => Date;
  logger?: Pick<Logger, 'warn'> | undefined;
  /** False: the import fires no trigger (`offerflow import --no-triggers`). */
  fireTriggers?: boolean | undefined;
  /** Purchase lines older than this fire nothing unless the import says `triggers: 'all'` (default 24). */
  triggerMaxAgeHours?: number | undefined;
  /** The install's opt-in policy (optInPolicy(config)): consent columns follow it as the API does. */
  optIn?: OptInPolicy | undefined;
}

export interface ImportOptions extends ReadOptions {
  mapping?: Record<string, string> | undefined;
  timezone?: string | undefined;
  batch_size?: number | undefined;
  /** Purchases batches in flight at once (default 2). */
  concurrency?: number | undefined;
  /** Which new purchase lines fire automations (default `recent`; see imports/history.ts). */
  triggers?: TriggerMode | undefined;
}

/** Reads and imports one CSV stream into an existing import row, firing triggers per batch. */
async function importStream(
  deps: ImportDeps,
  row: Pick<ImportRow, 'id' | 'kind' | 'bytes_done' | 'committed_batches' | 'committed_line'>,
  source: AsyncIterable<Buffer>,
  options: ImportOptions,
  onProgress?: (progress: ImportProgress) => void,
): Promise<ImportProgress> {
  const csv = await openCsv(source, options);
  const common = {
    importId: row.id,
    mapping: options.mapping,
    timezone: options.timezone,
    batchSize: options.batch_size,
    concurrency: options.concurrency,
    committedBatches: new Set(row.committed_batches),
    // An import started before batches were recorded one by one resumes after its last offset.
    resumeAfterByte: row.committed_batches.length === 0 && row.bytes_done > 0 ? row.bytes_done : undefined,
    now: deps.clock,
    onProgress,
  };
  // Events are recorded with each batch (trigger_outbox) and handed to the queue after its commit;
  // without a queue (or Redis), the reconciler hands them over.
  const release = (recorded: RecordedTriggerEvents) => releaseTriggerEvents(deps, recorded);
  const mode: TriggerMode = deps.fireTriggers === false ? 'none' : (options.triggers ?? 'recent');
  if (row.kind === 'purchases') {
    const fire = mode !== 'none' && (await hasEnabledTriggers(deps.sql, 'purchase'));
    // Decided once, at the start: a long import does not move the line between history and news.
    const cutoff = historyCutoff(mode, deps.clock(), deps.triggerMaxAgeHours ?? 24);
    return importPurchaseCsv(deps.sql, csv, {
      ...common,
      triggers: fire
        ? { eventsOf: (created) => purchaseEvents(recentOnly(created, cutoff)), release }
        : undefined,
    });
  }
  if (row.kind === 'products') {
    return importProductCsv(deps.sql, csv, { ...common, resumeAfterLine: row.committed_line });
  }
  const fire = mode !== 'none' && (await hasEnabledTriggers(deps.sql, 'customer_created'));
  return importCustomerCsv(deps.sql, csv, {
    ...common,
    resumeAfterLine: row.committed_line,
    optIn: deps.optIn,
    triggers: fire
      ? { eventsOf: (created) => customerCreatedEvents(created.map((c) => c.id)), release }
      : undefined,
  });
}

/** Imports a local file (the CLI): the import row and its error report are kept like an upload's. */
export async function importLocalStream(
  deps: ImportDeps,
  input: { kind: ImportKind; filename: string; source: AsyncIterable<Buffer>; options: ImportOptions },
  onProgress?: (progress: ImportProgress) => void,
): Promise<{ importId: number; progress: ImportProgress }> {
  const row = await insertImport(deps.sql, {
    kind: input.kind,
    filename: input.filename,
    options: { ...input.options },
    status: 'running',
  });
  try {
    const progress = await importStream(deps, row, input.source, input.options, onProgress);
    await finishImport(deps.sql, row.id, null);
    return { importId: row.id, progress };
  } catch (error) {
    await finishImport(deps.sql, row.id, error instanceof Error ? error.message : String(error));
    throw error;
  }
}

/**
 * Runs an uploaded import (the `import` queue's job): streams its stored file back, resumes
 * after the last committed batch when a worker died mid-way. A file-level failure (no header,
 * unmappable columns) ends the import `failed` with the reason; it is not retried.
 */
export async function runUploadedImport(deps: ImportDeps, importId: number): Promise<ImportProgress | null> {
  const row = await startImport(deps.sql, importId);
  if (!row) return null;
  try {
    const progress = await importStream(
      deps,
      row,
      readChunks(deps.sql, importId),
      row.options as ImportOptions,
    );
    await finishImport(deps.sql, importId, null);
    return progress;
  } catch (error) {
    // Anything but bad input (a lost connection) is retried by the queue and resumes.
    if (!(error instanceof AppError)) throw error;
    const detail = error as { message?: string; errors?: { path?: string; message: string }[] };
    const reason = detail.errors?.length
      ? detail.errors.map((e) => `${e.path}: ${e.message}`).join('; ')
      : (detail.message ?? String(error));
    await finishImport(deps.sql, importId, reason);
    return null;
  }
}
