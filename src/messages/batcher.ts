/**
 * Group commit for the send path: calls made while a statement of the same kind is in flight
 * wait for it and then go together as the next one, so many concurrent sends share a round
 * trip to PostgreSQL instead of paying one each. Under no load a call runs at once, alone (no
 * timer, no added latency); under load batches grow by themselves up to `maxSize`.
 *
 * `flush` gets the inputs of one batch and returns one output per input, in order. When it
 * throws, every call of that batch gets the error: each caller then retries (or not) as it
 * would have on its own statement, so the batch changes the cost, never the guarantees.
 */
export function createBatcher<I, O>(
  flush: (inputs: I[]) => Promise<O[]>,
  options: { maxSize?: number; maxInFlight?: number } = {},
): (input: I) => Promise<O> {
  const maxSize = options.maxSize ?? 200;
  // Two batches in flight keep a pool connection busy while the next one fills.
  const maxInFlight = options.maxInFlight ?? 2;
  let waiting: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let inFlight = 0;

  function drain(): void {
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, maxSize);
      waiting = waiting.slice(batch.length);
      inFlight++;
      const settle = (outputs: O[]) => {
        if (outputs.length !== batch.length)
          throw new Error(`batch of ${batch.length} answered ${outputs.length} results`);
        for (const [i, w] of batch.entries()) w.resolve(outputs[i]!);
      };
      // Through a promise, so that a flush throwing at once rejects its batch as well.
      Promise.resolve()
        .then(() => flush(batch.map((w) => w.input)))
        .then(settle)
        .catch((error: unknown) => {
          for (const w of batch) w.reject(error);
        })
        .finally(() => {
          inFlight--;
          drain();
        });
    }
  }

  return (input: I) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ input, resolve, reject });
      drain();
    });
}
