import type { JobDispatcher } from '../deps.js';

export const IMPORT_QUEUE = 'import';

export interface ImportJobData {
  import_id: number;
}

/** One job per import (`import-{id}`): a second enqueue of the same upload adds nothing. */
export async function enqueueImport(jobs: JobDispatcher, importId: number): Promise<void> {
  await jobs.enqueue(IMPORT_QUEUE, [
    {
      name: 'import',
      data: { import_id: importId } satisfies ImportJobData as unknown as Record<string, unknown>,
      opts: { jobId: `import-${importId}`, attempts: 5 },
    },
  ]);
}
