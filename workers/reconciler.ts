import type { Logger } from 'pino';
import { type ReconcileDeps, reconcile } from '../src/reconcile/reconcile.js';

/**
 * Runs the reconciler every `intervalMs` in this process (skipping a tick while one runs). A
 * timer rather than a BullMQ repeatable job on purpose: it must keep running when Redis was
 * wiped, which is when it is needed most. Several processes running it at once is harmless.
 */
export function startReconciler(
  deps: ReconcileDeps & { logger: Logger },
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return;
    running = reconcile(deps)
      .then((r) => {
        if (r.planners || r.enqueued || r.finished) deps.logger.info(r, 'reconciled');
      })
      .catch((error: unknown) => deps.logger.error({ err: error }, 'reconcile failed'))
      .finally(() => {
        running = null;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
