/**
 * At most `n` calls of the returned function run at once; the others wait their turn in order.
 * The send queue's batch jobs share one per process, so that a process sends as many mails at
 * once as SEND_CONCURRENCY says whether they come as one job each or fifty a job.
 */
export function createConcurrencyLimit(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    // A woken caller takes the slot its predecessor left (running was not decremented for it).
    else running++;
    try {
      return await fn();
    } finally {
      if (waiting.length > 0) waiting.shift()!();
      else running--;
    }
  };
}
