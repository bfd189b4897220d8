/**
 * A counting limit on work in flight: `run` waits while `max` others are running. The webhook
 * worker holds POSTs to it, so WEBHOOK_CONCURRENCY bounds the requests receivers see while
 * more jobs than that claim and record their deliveries in PostgreSQL meanwhile.
 */
export interface InFlightLimit {
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function inFlightLimit(max: number): InFlightLimit {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    const next = waiting.shift();
    if (next) {
      running++;
      next();
    }
  };
  return {
    async run(task) {
      if (running < max) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
