import type { Job } from 'bullmq';
import type { ImportJobData } from '../src/imports/jobs.js';
import type { ImportProgress } from '../src/imports/purchases-import.js';
import { type ImportDeps, runUploadedImport } from '../src/imports/run.js';

/** The import queue's processor: one job per uploaded file (`import-{id}`). */
export const importProcessor =
  (deps: ImportDeps) =>
  (job: Job<ImportJobData>): Promise<ImportProgress | null> =>
    runUploadedImport(deps, job.data.import_id);
