import type { Db } from '../db/sql.js';
import type { LearningInput } from './decide.js';
import type { LearnedStats, LearnerSettings } from './learner.js';
import { learnedStatsVersion, loadLearnedStats } from './ranker-store.js';
import type { Ranker } from './schema.js';

// How a producer of mail (a campaign, a trigger, a journey's send_email step) asks for the
// learning ranker: one `ranker` shape in every API, stored as the same four columns, turned into
// the one LearningInput the decision core reads. Every producer goes through here, so a ranker
// means the same wherever it is set.

/** A ranker as a campaign or trigger row stores it. */
export interface RankerColumns {
  ranker: 'priority' | 'learning';
  ranker_objective: 'conversion' | 'revenue';
  ranker_cells: boolean;
  ranker_exploration: number;
}

/** The ranker of a new row that asked for none: by priority, with the learner's defaults. */
export const DEFAULT_RANKER: RankerColumns = {
  ranker: 'priority',
  ranker_objective: 'conversion',
  ranker_cells: false,
  ranker_exploration: 0.05,
};

/** The columns from a request's `ranker` (absent: the row's as it is, or the defaults). */
export function rankerColumns(ranker: Ranker | undefined, base?: RankerColumns): RankerColumns {
  if (ranker === undefined) {
    return {
      ranker: base?.ranker ?? DEFAULT_RANKER.ranker,
      ranker_objective: base?.ranker_objective ?? DEFAULT_RANKER.ranker_objective,
      ranker_cells: base?.ranker_cells ?? DEFAULT_RANKER.ranker_cells,
      ranker_exploration: base?.ranker_exploration ?? DEFAULT_RANKER.ranker_exploration,
    };
  }
  return {
    ranker: ranker.mode,
    ranker_objective: ranker.objective,
    ranker_cells: ranker.segment_cells,
    ranker_exploration: ranker.exploration,
  };
}

/** The API view (`ranker`) of a row's columns. */
export function rankerView(row: RankerColumns): Ranker {
  return {
    mode: row.ranker,
    objective: row.ranker_objective,
    segment_cells: row.ranker_cells,
    exploration: row.ranker_exploration,
  };
}

/** The learner's settings of a ranker. */
export function learnerSettings(ranker: Ranker): LearnerSettings {
  return { objective: ranker.objective, cells: ranker.segment_cells, exploration: ranker.exploration };
}

/**
 * The learning input of a producer whose ranker asks for it (undefined: rank by priority, or no
 * offers to rank). `stats` is how a producer deciding many rows shares one read of what was
 * learned (a memo, a cache); called only when the ranker learns; absent: read here.
 * `seedKey` names the producer (`campaign:12`, `trigger:3`), each customer's draws being seeded
 * by it and their id.
 */
export async function learningFor(
  db: Db,
  ranker: Ranker | undefined,
  input: { offersPerEmail: number; seedKey: string; stats?: (db: Db) => Promise<LearnedStats> },
): Promise<LearningInput | undefined> {
  if (ranker?.mode !== 'learning' || input.offersPerEmail <= 0) return undefined;
  return {
    settings: learnerSettings(ranker),
    stats: await (input.stats ?? loadLearnedStats)(db),
    seedKey: input.seedKey,
  };
}

/**
 * What was learned, read again only when it changed (the ranker worker recomputed it, or it was
 * reset): for a producer that decides one customer at a time (a journey's due step), one small
 * query per decision instead of the whole table. Each instance keeps one copy.
 */
export function learnedStatsCache(): (db: Db) => Promise<LearnedStats> {
  let cached: { version: string; stats: LearnedStats } | undefined;
  return async (db) => {
    const version = await learnedStatsVersion(db);
    if (cached?.version !== version) cached = { version, stats: await loadLearnedStats(db) };
    return cached.stats;
  };
}
