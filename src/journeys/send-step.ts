import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import type { ControlGroup } from '../holdouts/assign.js';
import { decideRecipients } from '../messages/recipients.js';
import { learnedStatsCache, learningFor } from '../offers/learning.js';
import { insertJourneyMessages } from './entry-store.js';
import type { Step } from './schema.js';

// The send_email steps of a batch of due entries: one recipients step (suppression, consent, the
// control group, offers) and one ledger statement for all of them, whatever their journeys.

type SendStep = Extract<Step, { type: 'send_email' }>;

export interface SendRun {
  entry: { id: number; journey_id: number; version_id: number; customer_id: number };
  step: SendStep;
}

/** What the learning ranker knows, for send_email steps that rank with it (re-read when it changes). */
const learnedStats = learnedStatsCache();

/**
 * Decides and writes the ledger rows of these send_email step runs (at most one per entry), in
 * the caller's transaction. Returns each run's message, in order; its send job goes out after
 * the commit, like a trigger's.
 */
export async function runSendSteps(
  deps: { sql: Db; config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'> },
  runs: readonly SendRun[],
  input: { now: Date; controlGroup: ControlGroup | null },
): Promise<{ id: number; status: string; send_at: Date }[]> {
  if (runs.length === 0) return [];
  const { now } = input;
  // A learning ranker's draws are seeded by the entry (each entry draws anew): its rows are
  // decided one entry at a time. Otherwise one batch of decisions per step of a version.
  const batchKey = (r: SendRun) =>
    r.step.ranker?.mode === 'learning'
      ? `${r.entry.version_id}:${r.step.id}:${r.entry.id}`
      : `${r.entry.version_id}:${r.step.id}`;
  const rows = runs.map((run) => ({ customer_id: run.entry.customer_id, run }));
  const decided = await decideRecipients(deps, rows, {
    now,
    placements: (r) => r.run.step.offers_per_email ?? 0,
    missingReason: 'erased',
    offerBatch: (r) => batchKey(r.run),
    holdout: {
      controlGroup: input.controlGroup,
      promotional: () => true,
      own: (r) => ({ key: `journey:${r.run.entry.journey_id}`, percent: 0 }),
    },
    learning: async (batch) => {
      const { entry, step } = batch[0]!.run;
      return learningFor(deps.sql, step.ranker, {
        offersPerEmail: step.offers_per_email ?? 0,
        seedKey: `journey:${entry.journey_id}:${entry.id}:${step.id}`,
        stats: learnedStats,
      });
    },
  });
  // With `missingReason`, every row comes back, in order.
  const written = await insertJourneyMessages(
    deps.sql,
    decided.map((d) => ({
      customer_id: d.customer_id,
      template_id: d.run.step.template_id,
      template_version: d.run.step.template_version ?? null,
      offer_ids: d.offer_ids,
      held_out_offer_ids: d.held_out_offer_ids,
      ranker_cell: d.ranker_cell,
      status: d.status,
      suppressed_reason: d.suppressed_reason,
      send_at: now,
      journey_id: d.run.entry.journey_id,
      journey_version_id: d.run.entry.version_id,
      journey_entry_id: d.run.entry.id,
      journey_step: d.run.step.id,
    })),
  );
  return runs.map((r) => written.get(r.entry.id)!);
}
