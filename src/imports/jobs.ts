import type { Db } from '../db/sql.js';
import type { JobDispatcher } from '../deps.js';
import { QUEUES } from '../queue/queues.js';
import { queuedImportIds } from './store.js';

export interface ImportJobData {
  import_id: number;
}

/** One job per import (`import-{id}`): a second enqueue of the same upload adds nothing. */
export async function enqueueImport(jobs: JobDispatcher, importId: number): Promise<void> {
  await jobs.enqueue(QUEUES.import, [
    {
      name: 'import',
      data: { import_id: importId } satisfies ImportJobData as unknown as Record<string, unknown>,
      opts: { jobId: `import-${importId}`, attempts: 5 },
    },
  ]);
}

/**
 * Hands every upload still `queued` to the import queue (the reconciler's part for imports):
 * an upload stored by the edge build, or one whose job Redis lost. Its fixed job id makes a
 * live job absorb the repeat. Returns how many were handed over.
 */
export async function reconcileQueuedImports(deps: { sql: Db; jobs: JobDispatcher }): Promise<number> {
  const ids = await queuedImportIds(deps.sql, 1000);
  for (const id of ids) await enqueueImport(deps.jobs, id);
  return ids.length;
}
