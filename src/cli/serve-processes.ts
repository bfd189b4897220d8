import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config.js';
import { isAuthFailureMessage } from '../http/auth-failures-shared.js';
import { startMetricsListener } from '../http/metrics-listener.js';

/** A worker that dies sooner than this after its start is replaced only after a pause. */
const CRASH_LOOP_MS = 5000;
/** How long the workers get to finish requests and flush tracking at shutdown before SIGKILL. */
const STOP_DEADLINE_MS = 30_000;

export interface ServingProcesses {
  /** Stops every worker (SIGTERM: each drains and flushes like a single `serve`), then resolves. */
  stop(): Promise<void>;
}

/**
 * The primary of `serve --processes N`: forks N workers with Node's `cluster`, each running the
 * whole server on the shared PORT (the primary accepts connections and hands them round-robin
 * to the workers), and resolves once all N listen. It relays credential failures between them
 * so the AUTH_FAILURE_LIMIT holds for the whole server, replaces a worker that dies, and serves
 * METRICS_LISTEN itself with the workers' metrics summed. Everything else a worker needs to agree
 * on lives in PostgreSQL (sessions, keys) or per worker by design (each tracking buffer and spool
 * segment is the worker's own, replayed by any later worker if it dies).
 */
export async function startServingProcesses(
  config: Config,
  count: number,
  log: (line: string) => void,
): Promise<ServingProcesses> {
  let stopping = false;
  const started = new Map<Worker, number>();
  const fork = () => {
    const worker = cluster.fork();
    started.set(worker, Date.now());
    return worker;
  };
  cluster.on('message', (from, message) => {
    if (!isAuthFailureMessage(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker && worker !== from && worker.isConnected()) worker.send(message);
    }
  });
  let ready = 0;
  let failStart: (error: Error) => void = () => {};
  const listening = new Promise<void>((resolve, reject) => {
    failStart = reject;
    const onListening = () => {
      ready += 1;
      if (ready === count) {
        cluster.off('listening', onListening);
        resolve();
      }
    };
    cluster.on('listening', onListening);
  });
  cluster.on('exit', (worker, code, signal) => {
    const at = started.get(worker) ?? 0;
    started.delete(worker);
    if (stopping) return;
    if (ready < count) {
      // A worker that cannot start (bad config, port taken) exits before listening: stop there.
      stopping = true;
      for (const other of started.keys()) other.process.kill('SIGTERM');
      failStart(new Error(`a serve process exited (${signal ?? code}) before listening`));
      return;
    }
    const pause = Date.now() - at < CRASH_LOOP_MS ? CRASH_LOOP_MS : 0;
    log(`serve: process ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(() => {
      if (!stopping) fork();
    }, pause);
  });
  for (let i = 0; i < count; i++) fork();
  await listening;

  const aggregator = new AggregatorRegistry();
  const metrics = config.METRICS_LISTEN
    ? await startMetricsListener(
        { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
        { listen: config.METRICS_LISTEN, token: config.METRICS_TOKEN },
      )
    : undefined;

  return {
    async stop() {
      stopping = true;
      const workers = [...started.keys()];
      await Promise.all([
        metrics?.close(),
        ...workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_DEADLINE_MS);
              worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              worker.process.kill('SIGTERM');
            }),
        ),
      ]);
    },
  };
}
