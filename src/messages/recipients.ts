import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { type ControlGroup, type HoldoutKey, inControlGroup, inHoldout } from '../holdouts/assign.js';
import { type Catalogue, decideOffersBatch, type LearningInput, loadCatalogue } from '../offers/decide.js';
import { suppressionReasons } from './suppression.js';

export interface RecipientsDeps {
  sql: Db;
  config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'>;
}

/** A producer's row with what delivery decided: its status, why it is suppressed, its offers. */
export type RecipientRow<T, S extends string> = T & {
  status: 'suppressed' | 'holdout' | S;
  suppressed_reason: string | null;
  offer_ids: number[];
  /** Offers the customer would have been shown but is in the holdout of (see offers' holdout_percent). */
  held_out_offer_ids: number[];
  /** The customer's cell when the learning ranker decided the offers (its impressions teach that cell). */
  ranker_cell: string | null;
};

/**
 * Who of a producer's mailable rows is held out (status `holdout`, no mail, counted in the
 * reports): the global control group for promotional mail, then the producer's own holdout.
 */
export interface HoldoutOptions<T> {
  /** The control group in force (currentControlGroup), loaded once by the producer. */
  controlGroup: ControlGroup | null;
  /** Transactional mail is exempt from the control group. */
  promotional: (row: T) => boolean;
  /** The producer's own holdout of a row: its hash key and percent (0: none). */
  own: (row: T) => { key: HoldoutKey; percent: number };
}

export interface RecipientsOptions<T, S extends string> {
  now: Date;
  /** Offers per email of a row (0: none). Only rows whose status is `queued` get offers. */
  placements: (row: T) => number;
  /**
   * The status of a row whose customer may be mailed, asked once per such row in page order
   * (so a frequency cap can count as it goes): `queued` by default; `held` for an A/B test's
   * remainder, `capped` for a trigger over its cap, and so on.
   */
  admit?: (row: T) => S;
  /** The catalogue, loaded once by a producer that decides many pages; loaded here if absent. */
  catalogue?: Catalogue;
  /** Offers handed out by earlier pages of the same run, counted against global caps (updated). */
  allocated?: Map<number, number>;
  /**
   * Rows whose key is equal are decided in one batch (default: the whole page is one batch).
   * A trigger firing decides each trigger's rows apart, with its own number of offers.
   */
  offerBatch?: (row: T) => number | string;
  /** The reason for a customer who no longer exists; without it their rows are left out. */
  missingReason?: string;
  /** Holdouts, decided before `admit` (a held-out row is not counted against a cap). */
  holdout?: HoldoutOptions<T>;
  /**
   * Rank offers with the learning ranker: one for every row (a campaign that opted in), or each
   * offer batch's own, asked with the batch's rows (a trigger firing: each trigger's ranker);
   * absent or undefined: by priority.
   */
  learning?: LearningInput | ((batch: readonly T[]) => Promise<LearningInput | undefined>);
}

/** Why a mailable row is held out (`control_group` or `holdout`), or null. */
function holdoutReason<T extends { customer_id: number }>(
  row: T,
  h: HoldoutOptions<T> | undefined,
): string | null {
  if (!h) return null;
  if (h.promotional(row) && inControlGroup(h.controlGroup, row.customer_id)) return 'control_group';
  const own = h.own(row);
  return inHoldout(own.key, row.customer_id, own.percent) ? 'holdout' : null;
}

/**
 * The recipients step of every producer of ledger rows (the campaign planner, the A/B send-out,
 * the trigger firing): for a page of rows, each naming a customer, the suppression reasons
 * (three queries for the page), each mailable row's status, and the offers of the queued rows
 * (one batch of decisions per `offerBatch` key). Returns the rows in page order, each with its
 * `status`, `suppressed_reason` and `offer_ids`, ready for the producer to write.
 */
export async function decideRecipients<T extends { customer_id: number }, S extends string = 'queued'>(
  deps: RecipientsDeps,
  page: readonly T[],
  options: RecipientsOptions<T, S>,
): Promise<RecipientRow<T, S>[]> {
  if (page.length === 0) return [];
  const reasons = await suppressionReasons(deps.sql, deps.config, [
    ...new Set(page.map((r) => r.customer_id)),
  ]);
  const admit = options.admit ?? (() => 'queued' as S);
  const rows: RecipientRow<T, S>[] = [];
  for (const row of page) {
    let reason: string | null;
    if (reasons.has(row.customer_id)) reason = reasons.get(row.customer_id)!;
    else if (options.missingReason !== undefined) reason = options.missingReason;
    else continue; // deleted since the page was read
    const held = reason ? null : holdoutReason(row, options.holdout);
    rows.push({
      ...row,
      status: reason ? 'suppressed' : held ? 'holdout' : admit(row),
      suppressed_reason: reason ?? held,
      offer_ids: [],
      held_out_offer_ids: [],
      ranker_cell: null,
    });
  }
  await decideRowOffers(deps.sql, rows, options);
  return rows;
}

/** Decides the offers of the queued rows, one batch per `offerBatch` key, in first-seen order. */
async function decideRowOffers<T extends { customer_id: number }, S extends string>(
  sql: Db,
  rows: RecipientRow<T, S>[],
  options: RecipientsOptions<T, S>,
): Promise<void> {
  const batches = new Map<number | string, { placements: number; rows: RecipientRow<T, S>[] }>();
  for (const row of rows) {
    if (row.status !== 'queued') continue;
    const placements = options.placements(row);
    if (placements <= 0) continue;
    const key = options.offerBatch?.(row) ?? 0;
    const batch = batches.get(key) ?? { placements, rows: [] };
    batch.rows.push(row);
    batches.set(key, batch);
  }
  if (batches.size === 0) return;
  const catalogue = options.catalogue ?? (await loadCatalogue(sql));
  for (const batch of batches.values()) {
    const learning =
      typeof options.learning === 'function' ? await options.learning(batch.rows) : options.learning;
    const decisions = await decideOffersBatch(sql, {
      customerIds: batch.rows.map((r) => r.customer_id),
      placements: batch.placements,
      now: options.now,
      catalogue,
      ...(options.allocated ? { allocated: options.allocated } : {}),
      ...(learning ? { learning } : {}),
    });
    for (const row of batch.rows) {
      const decision = decisions.get(row.customer_id);
      row.offer_ids = decision?.offers.map((o) => o.offer_id) ?? [];
      row.held_out_offer_ids = decision?.held_out ?? [];
      row.ranker_cell = decision?.ranker?.cell ?? null;
    }
  }
}
