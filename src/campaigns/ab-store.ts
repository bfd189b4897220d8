import type { Db } from '../db/sql.js';
import { lockedInIdOrder } from '../messages/ledger.js';
import type { AbDecision } from './winner.js';

// The queries of A/B tests with winner send-out: the test window, the decision, the held rows.
// Kept apart from store.ts so the send ledger's core queries stay in one short file.

/**
 * Opens the window of each A/B test whose test cell is planned and fully sent (nothing queued
 * or sending; held rows wait for the winner): the window runs `window_hours` from `now`.
 * Only a sending campaign: a paused one opens its window when it resumes and finishes the cell.
 */
export async function openAbWindows(
  sql: Db,
  now: Date,
  campaignId?: number,
): Promise<{ id: number; ab_window_ends_at: Date }[]> {
  return sql<{ id: number; ab_window_ends_at: Date }[]>`
    update campaigns c set
      ab_window_started_at = ${now},
      ab_window_ends_at = ${now}::timestamptz
        + make_interval(secs => (c.ab_test ->> 'window_hours')::float8 * 3600),
      updated_at = now()
    where c.ab_test is not null and c.ab_decided_at is null and c.ab_window_started_at is null
      and c.status = 'sending' and c.planned_at is not null and c.deleted_at is null
      ${campaignId === undefined ? sql`` : sql`and c.id = ${campaignId}`}
      and not exists (
        select 1 from messages m where m.campaign_id = c.id and m.status in ('queued', 'sending'))
    returning c.id, c.ab_window_ends_at`;
}

export interface AbInFlight {
  id: number;
  ab_window_ends_at: Date | null;
  decided: boolean;
}

/**
 * Sending campaigns whose A/B test needs a job: undecided with an open window (the decision),
 * or decided with rows still held (the send-out).
 */
export async function abTestsInFlight(sql: Db): Promise<AbInFlight[]> {
  return sql<AbInFlight[]>`
    select c.id, c.ab_window_ends_at, c.ab_decided_at is not null as decided
    from campaigns c
    where c.ab_test is not null and c.status = 'sending' and c.deleted_at is null
      and ((c.ab_decided_at is null and c.ab_window_ends_at is not null)
        or (c.ab_decided_at is not null
          and exists (select 1 from messages m where m.campaign_id = c.id and m.status = 'held')))
    order by c.id`;
}

/** Records the winner of a campaign's A/B test (the caller holds the campaign's row lock). */
export async function recordAbDecision(
  sql: Db,
  campaignId: number,
  decision: AbDecision,
  at: Date,
): Promise<void> {
  await sql`
    update campaigns set ab_decision = ${sql.json(decision as never)}, ab_decided_at = ${at}, updated_at = now()
    where id = ${campaignId}`;
}

/** A page of a campaign's held rows, by id. */
export async function heldMessages(
  sql: Db,
  campaignId: number,
  input: { afterId: number; limit: number },
): Promise<{ id: number; customer_id: number }[]> {
  return sql<{ id: number; customer_id: number }[]>`
    select id, customer_id from messages
    where campaign_id = ${campaignId} and status = 'held' and id > ${input.afterId}
    order by id limit ${input.limit}`;
}

export interface ReleasedRow {
  id: number;
  variant: string;
  template_version: number;
  offer_ids: number[];
  status: 'queued' | 'suppressed' | 'holdout';
  suppressed_reason: string | null;
  held_out_offer_ids: number[];
  ranker_cell?: string | null;
}

/**
 * Turns held rows into the winner send-out: queued with the winner and its offers, or suppressed
 * with the reason. A row no longer held (cancelled meanwhile, or released by another run) is left
 * alone. Returns the customers of the rows it queued.
 */
export async function releaseHeldMessages(sql: Db, rows: ReleasedRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const released = await sql<{ customer_id: number; status: string }[]>`
    update messages m set status = r.status, variant = r.variant, template_version = r.template_version,
      offer_ids = r.offer_ids, suppressed_reason = r.suppressed_reason, held_out_offer_ids = r.held_out_offer_ids, ranker_cell = r.ranker_cell, ab_remainder = true, updated_at = now()
    from ${lockedInIdOrder(sql, sql`id = any(${rows.map((r) => r.id)}::bigint[]) and status = 'held'`)},
      jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      as r(id bigint, variant text, template_version int, offer_ids bigint[], status text, suppressed_reason text, held_out_offer_ids bigint[], ranker_cell text)
    where m.id = locked.id and r.id = locked.id
    returning m.customer_id, m.status`;
  return released.filter((r) => r.status === 'queued').map((r) => r.customer_id);
}

/** Cancels a campaign's held rows (the campaign is cancelled: the rest never get the winner). */
export async function cancelHeldMessages(sql: Db, campaignId: number): Promise<number> {
  const rows = await sql`
    update messages m set status = 'cancelled', updated_at = now()
    from ${lockedInIdOrder(sql, sql`campaign_id = ${campaignId} and status = 'held'`)}
    where m.id = locked.id returning m.id`;
  return rows.length;
}
