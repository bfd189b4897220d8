import type { Db } from '../db/sql.js';
import type { MessageCategory } from '../policy/schema.js';
import type { AbTest, CampaignStatus, Variant } from './schema.js';
import type { AbDecision } from './winner.js';

// Every query of the campaigns module but the send ledger's (src/messages/ledger.ts).

export interface CampaignRow {
  id: number;
  name: string;
  segment_id: number | null;
  template_id: number | null;
  template_version: number | null;
  offers_per_email: number;
  variants: Variant[];
  schedule_at: Date | null;
  throttle_per_second: number | null;
  attribution: { click_days: number; open_days: number };
  from_address: string | null;
  from_name: string | null;
  sender_id: number | null;
  holdout_percent: number;
  ranker: 'priority' | 'learning';
  ranker_objective: 'conversion' | 'revenue';
  ranker_cells: boolean;
  ranker_exploration: number;
  send_at_best_hour: boolean;
  category: MessageCategory;
  priority: number;
  status: CampaignStatus;
  launched_at: Date | null;
  plan_after_id: number | null;
  planned_at: Date | null;
  finished_at: Date | null;
  created_at: Date;
  updated_at: Date;
  ab_test: AbTest | null;
  ab_window_started_at: Date | null;
  ab_window_ends_at: Date | null;
  ab_decided_at: Date | null;
  ab_decision: AbDecision | null;
}

export interface CampaignWrite {
  name: string;
  segment_id: number | null;
  template_id: number | null;
  template_version: number | null;
  offers_per_email: number;
  variants: Variant[];
  schedule_at: Date | null;
  throttle_per_second: number | null;
  attribution: { click_days: number; open_days: number };
  from_address: string | null;
  from_name: string | null;
  sender_id: number | null;
  holdout_percent: number;
  ranker: 'priority' | 'learning';
  ranker_objective: 'conversion' | 'revenue';
  ranker_cells: boolean;
  ranker_exploration: number;
  send_at_best_hour: boolean;
  category: MessageCategory;
  priority: number;
  ab_test: AbTest | null;
}

const COLUMNS = [
  'name',
  'segment_id',
  'template_id',
  'template_version',
  'offers_per_email',
  'variants',
  'schedule_at',
  'throttle_per_second',
  'attribution',
  'from_address',
  'from_name',
  'sender_id',
  'holdout_percent',
  'ranker',
  'ranker_objective',
  'ranker_cells',
  'ranker_exploration',
  'send_at_best_hour',
  'category',
  'priority',
  'ab_test',
] as const;

const toDb = (sql: Db, w: CampaignWrite) => ({
  ...w,
  variants: sql.json(w.variants as never),
  attribution: sql.json(w.attribution as never),
  // sql.json(null) would store a jsonb null, not SQL NULL.
  ab_test: w.ab_test ? sql.json(w.ab_test as never) : null,
});

/** Inserts a draft campaign. */
export async function insertCampaign(sql: Db, w: CampaignWrite): Promise<CampaignRow> {
  const [row] = await sql<CampaignRow[]>`insert into campaigns ${sql(toDb(sql, w), ...COLUMNS)} returning *`;
  return row!;
}

/** Replaces the editable fields of a campaign. */
export async function updateCampaignFields(sql: Db, id: number, w: CampaignWrite): Promise<CampaignRow> {
  const [row] = await sql<CampaignRow[]>`
    update campaigns set ${sql(toDb(sql, w), ...COLUMNS)}, updated_at = now() where id = ${id} returning *`;
  return row!;
}

/** One live (not deleted) campaign; `lock` takes a row lock for a status change. */
export async function findCampaign(sql: Db, id: number, lock = false): Promise<CampaignRow | undefined> {
  const [row] = lock
    ? await sql<CampaignRow[]>`select * from campaigns where id = ${id} and deleted_at is null for update`
    : await sql<CampaignRow[]>`select * from campaigns where id = ${id} and deleted_at is null`;
  return row;
}

/** A page of live campaigns, newest first (keyset on id). */
export async function listCampaigns(
  sql: Db,
  input: { limit: number; beforeId?: number; status?: CampaignStatus },
): Promise<CampaignRow[]> {
  return sql<CampaignRow[]>`
    select * from campaigns
    where deleted_at is null
      ${input.beforeId ? sql`and id < ${input.beforeId}` : sql``}
      ${input.status ? sql`and status = ${input.status}` : sql``}
    order by id desc limit ${input.limit + 1}`;
}

/** Soft-deletes a campaign (its messages stay: they are the contact history's source). */
export async function markCampaignDeleted(sql: Db, id: number): Promise<void> {
  await sql`update campaigns set deleted_at = now(), updated_at = now() where id = ${id}`;
}

/** Moves a campaign to a status, setting the given timestamps. */
export async function setCampaignStatus(
  sql: Db,
  id: number,
  status: CampaignStatus,
  extra: { template_version?: number; launched_at?: Date; finished_at?: Date } = {},
): Promise<CampaignRow> {
  const [row] = await sql<CampaignRow[]>`
    update campaigns set
      status = ${status},
      template_version = coalesce(${extra.template_version ?? null}::int, template_version),
      launched_at = coalesce(${extra.launched_at ?? null}::timestamptz, launched_at),
      finished_at = coalesce(${extra.finished_at ?? null}::timestamptz, finished_at),
      updated_at = now()
    where id = ${id} returning *`;
  return row!;
}

/** Whether the segment exists (and is not deleted). */
export async function segmentRule(sql: Db, id: number): Promise<unknown | undefined> {
  const [row] = await sql<
    { rule: unknown }[]
  >`select rule from segments where id = ${id} and deleted_at is null`;
  return row?.rule;
}

/** The latest version number of a template, or undefined when the template does not exist. */
export async function templateLatestVersion(sql: Db, id: number): Promise<number | undefined> {
  const [row] = await sql<
    { latest_version: number }[]
  >`select latest_version from templates where id = ${id}`;
  return row?.latest_version;
}

/** Which of these versions of a template exist. */
export async function existingTemplateVersions(
  sql: Db,
  templateId: number,
  versions: number[],
): Promise<Set<number>> {
  const rows = await sql<{ version: number }[]>`
    select version from template_versions where template_id = ${templateId} and version = any(${versions}::int[])`;
  return new Set(rows.map((r) => r.version));
}

/** Counts of a campaign's messages by status, suppression reason, and the recent send rate. */
export async function messageCounts(
  sql: Db,
  campaignId: number,
): Promise<{ status: string; reason: string | null; n: number; recent: number }[]> {
  return sql`
    select status, suppressed_reason as reason, count(*)::int as n,
      count(*) filter (where status = 'sent' and sent_at > now() - interval '10 seconds')::int as recent
    from messages where campaign_id = ${campaignId}
    group by status, suppressed_reason`;
}

/** Marks a campaign sent once it is planned and no row is left to send. Returns true if it did. */
export async function finishCampaignIfDone(sql: Db, campaignId: number): Promise<boolean> {
  const rows = await sql`
    update campaigns set status = 'sent', finished_at = now(), updated_at = now()
    where id = ${campaignId} and status = 'sending' and planned_at is not null
      -- An A/B test is done once its winner is chosen and the rest (held rows) are sent.
      and (ab_test is null or ab_decided_at is not null)
      and not exists (
        select 1 from messages where campaign_id = ${campaignId} and status in ('queued', 'sending', 'held'))
    returning id`;
  return rows.length > 0;
}

export interface PlannedRow {
  customer_id: number;
  /** Null for a row held for an A/B test's winner. */
  variant: string | null;
  template_version: number;
  offer_ids: number[];
  status: 'queued' | 'suppressed' | 'held' | 'holdout';
  suppressed_reason: string | null;
  held_out_offer_ids: number[];
  ranker_cell?: string | null;
  /** When the row is due (a campaign sent at each customer's best hour); null: at once. */
  send_at?: string | null;
}

/** Inserts the ledger rows of one page; a row that exists (re-launch, second planner) is kept. */
export async function insertPlannedMessages(
  sql: Db,
  campaign: { id: number; template_id: number },
  rows: PlannedRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await sql`
    insert into messages (campaign_id, customer_id, variant, template_id, template_version, offer_ids, status, suppressed_reason, held_out_offer_ids, ranker_cell, send_at)
    select ${campaign.id}, r.customer_id, r.variant, ${campaign.template_id}, r.template_version, r.offer_ids, r.status, r.suppressed_reason, r.held_out_offer_ids, r.ranker_cell, r.send_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      as r(customer_id bigint, variant text, template_version int, offer_ids bigint[], status text, suppressed_reason text, held_out_offer_ids bigint[], ranker_cell text, send_at timestamptz)
    on conflict (campaign_id, customer_id) where campaign_id is not null do nothing
    returning id`;
  return inserted.length;
}

/** Moves the planner's keyset position forward (never back: two planners may race). */
export async function advancePlanCursor(sql: Db, campaignId: number, afterId: number): Promise<void> {
  await sql`
    update campaigns set plan_after_id = greatest(coalesce(plan_after_id, 0), ${afterId}), updated_at = now()
    where id = ${campaignId}`;
}

/** Records that the whole segment was planned. */
export async function markPlanned(sql: Db, campaignId: number): Promise<void> {
  await sql`update campaigns set planned_at = coalesce(planned_at, now()), updated_at = now() where id = ${campaignId}`;
}

/** A scheduled campaign whose time has come starts sending. */
export async function startIfDue(sql: Db, campaignId: number): Promise<void> {
  await sql`
    update campaigns set status = 'sending', updated_at = now()
    where id = ${campaignId} and status = 'scheduled' and (schedule_at is null or schedule_at <= now())`;
}

/** Campaigns the reconciler looks after: sending, or scheduled and due. */
export async function activeCampaigns(sql: Db): Promise<CampaignRow[]> {
  return sql<CampaignRow[]>`
    select * from campaigns
    where deleted_at is null
      and (status = 'sending' or (status = 'scheduled' and (schedule_at is null or schedule_at <= now())))
    order by id`;
}

/** Throttled campaigns that may still send: each gets its own rate-limited send queue. */
export async function throttledCampaigns(sql: Db): Promise<{ id: number; throttle_per_second: number }[]> {
  return sql<{ id: number; throttle_per_second: number }[]>`
    select id, throttle_per_second from campaigns
    where throttle_per_second is not null and deleted_at is null and status in ('scheduled', 'sending', 'paused')`;
}
