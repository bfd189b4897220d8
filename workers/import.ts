import type { Job } from 'bullmq';
import type { ImportJobData } from '../src/imports/jobs.js';
import type { ImportProgress } from '../src/imports/purchases-import.js';
import { type ImportDeps, runUploadedImport } from '../src/imports/run.js';
import { enqueueRefresh } from '../src/products/refresh.js';

/**
 * The import queue's processor: one job per uploaded file (`import-{id}`). A finished import
 * asks for a refresh of the recommendations (new lines or products change every feed).
 */
export const importProcessor =
  (deps: ImportDeps) =>
  async (job: Job<ImportJobData>): Promise<ImportProgress | null> => {
    const progress = await runUploadedImport(deps, job.data.import_id);
    if (progress && progress.created > 0 && deps.jobs) await enqueueRefresh(deps.jobs);
    return progress;
  };
