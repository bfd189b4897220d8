import type { Db, Fragment } from '../db/sql.js';
import type { AbTest, CampaignStatus, Variant } from './schema.js';
import type { AbDecision } from './winner.js';

// Every query of the campaigns module: campaigns, the messages ledger, suppressions.

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

/** Cancels the rows of a campaign that were not sent yet. */
export async function cancelQueuedMessages(sql: Db, campaignId: number): Promise<number> {
  const rows = await sql`
    update messages m set status = 'cancelled', updated_at = now()
    from ${lockedInIdOrder(sql, sql`campaign_id = ${campaignId} and status = 'queued'`)}
    where m.id = locked.id returning m.id`;
  return rows.length;
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

/** Ids of a campaign's rows still to send, after a given id (keyset), for (re-)enqueueing. */
export async function unsentMessageIds(
  sql: Db,
  campaignId: number,
  input: { afterId: number; limit: number; customerIds?: number[]; idleSeconds?: number },
): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    select id from messages
    where campaign_id = ${campaignId} and status in ('queued', 'sending') and id > ${input.afterId}
      ${input.customerIds ? sql`and customer_id = any(${input.customerIds}::bigint[])` : sql``}
      ${
        input.idleSeconds !== undefined
          ? sql`and greatest(updated_at, coalesce(enqueued_at, updated_at)) < now() - make_interval(secs => ${input.idleSeconds})`
          : sql``
      }
    order by id limit ${input.limit}`;
  return rows.map((r) => r.id);
}

/**
 * The ids of the ledger rows matching `where`, locked in id order, as a `locked` relation for an
 * update's FROM. Statements that update many rows at once lock them in their plan's order (index
 * or heap, which updates reshuffle), so two of them over the same rows can deadlock; in id order
 * they cannot. With `skipLocked`, a row another transaction holds is left out instead of waited on.
 */
export function lockedInIdOrder(sql: Db, where: Fragment, options: { skipLocked?: boolean } = {}): Fragment {
  return sql`(
    select id from messages where ${where}
    order by id for update ${options.skipLocked ? sql`skip locked` : sql``}
  ) locked`;
}

/**
 * Notes that these ledger rows (a campaign's or a trigger's) were handed to the queue. Concurrent
 * planners note overlapping pages; a row another one holds is skipped: that one notes it, or a
 * sender is claiming it, which marks it busy as well.
 */
export async function markEnqueued(sql: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    update messages m set enqueued_at = now()
    from ${lockedInIdOrder(sql, sql`id = any(${ids}::bigint[])`, { skipLocked: true })}
    where m.id = locked.id`;
}

export interface RecipientFacts {
  id: number;
  email: string | null;
  erased: boolean;
  /** The latest marketing_email consent: true, false (withdrawn) or null (never asked). */
  marketing: boolean | null;
}

/** What the planner needs to know about each customer of a page to decide who may be mailed. */
export async function recipientFacts(sql: Db, customerIds: number[]): Promise<RecipientFacts[]> {
  return sql<RecipientFacts[]>`
    select c.id, c.email, c.erased_at is not null as erased,
      (select k.granted from consents k
        where k.customer_id = c.id and k.purpose = 'marketing_email'
        order by k.at desc, k.id desc limit 1) as marketing
    from customers c where c.id = any(${customerIds}::bigint[])
    order by c.id`;
}

/** The suppression reasons of these address hashes (hex), keyed by hash. */
export async function suppressionsOf(sql: Db, hashesHex: string[]): Promise<Map<string, string>> {
  if (hashesHex.length === 0) return new Map();
  const rows = await sql<{ hash: string; reason: string }[]>`
    select encode(email_hash, 'hex') as hash, reason from suppressions
    where email_hash = any(select decode(h, 'hex') from unnest(${hashesHex}::text[]) h)`;
  return new Map(rows.map((r) => [r.hash, r.reason]));
}

/** Adds an address hash to the suppression list (first reason wins). */
export async function insertSuppression(
  sql: Db,
  hash: Buffer,
  reason: string,
  source: string,
): Promise<void> {
  await sql`
    insert into suppressions (email_hash, reason, source) values (${hash}, ${reason}, ${source})
    on conflict (email_hash) do nothing`;
}

export interface PlannedRow {
  customer_id: number;
  /** Null for a row held for an A/B test's winner. */
  variant: string | null;
  template_version: number;
  offer_ids: number[];
  status: 'queued' | 'suppressed' | 'held';
  suppressed_reason: string | null;
}

/** Inserts the ledger rows of one page; a row that exists (re-launch, second planner) is kept. */
export async function insertPlannedMessages(
  sql: Db,
  campaign: { id: number; template_id: number },
  rows: PlannedRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await sql`
    insert into messages (campaign_id, customer_id, variant, template_id, template_version, offer_ids, status, suppressed_reason)
    select ${campaign.id}, r.customer_id, r.variant, ${campaign.template_id}, r.template_version, r.offer_ids, r.status, r.suppressed_reason
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      as r(customer_id bigint, variant text, template_version int, offer_ids bigint[], status text, suppressed_reason text)
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

export interface ClaimedMessage {
  id: number;
  customer_id: number;
  /** Null for a trigger's message. */
  campaign_id: number | null;
  trigger_id: number | null;
  variant: string | null;
  template_id: number;
  template_version: number;
  offer_ids: number[];
  attempts: number;
  campaign_name: string;
  campaign_variants: Variant[];
  from_address: string | null;
  from_name: string | null;
  /** The sender identity the campaign or trigger chose; null: the default sender. */
  sender_id: number | null;
  /** A trigger message's latest marketing_email consent at claim time (null: none, or a campaign row). */
  marketing: boolean | null;
  customer: Record<string, unknown> & { email: string | null; erased_at: Date | null };
}

/**
 * Claims a ledger row for sending: queued, or `sending` with a lease older than `leaseSeconds`
 * (its worker died); a campaign's row only while the campaign is sending, a trigger's row only
 * once its send_at has come. Returns what rendering needs.
 */
export async function claimMessage(
  sql: Db,
  id: number,
  leaseSeconds: number,
): Promise<ClaimedMessage | undefined> {
  const [row] = await sql<ClaimedMessage[]>`
    with claimed as (
      update messages m set status = 'sending', attempts = m.attempts + 1, updated_at = now()
      where m.id = ${id}
        and (m.status = 'queued'
          or (m.status = 'sending' and m.updated_at < now() - make_interval(secs => ${leaseSeconds})))
        and (m.send_at is null or m.send_at <= now())
        and (m.campaign_id is null
          or exists (select 1 from campaigns c where c.id = m.campaign_id and c.status = 'sending'))
      returning m.*
    )
    select k.id, k.customer_id, k.campaign_id, k.trigger_id, k.variant, k.template_id, k.template_version,
      k.offer_ids, k.attempts,
      coalesce(c.name, t.name) as campaign_name, coalesce(c.variants, '[]'::jsonb) as campaign_variants,
      c.from_address, c.from_name, coalesce(c.sender_id, t.sender_id) as sender_id,
      -- Consent can change during a trigger's delay: it is read again at send time.
      case when k.trigger_id is not null then (
        select g.granted from consents g
        where g.customer_id = k.customer_id and g.purpose = 'marketing_email'
        order by g.at desc, g.id desc limit 1) end as marketing,
      jsonb_build_object(
        'id', cu.id, 'external_id', cu.external_id, 'email', cu.email, 'first_name', cu.first_name,
        'last_name', cu.last_name, 'locale', cu.locale, 'timezone', cu.timezone, 'address', cu.address,
        'preferred_categories', cu.preferred_categories, 'hobbies', cu.hobbies, 'erased_at', cu.erased_at
      ) as customer
    from claimed k
      left join campaigns c on c.id = k.campaign_id
      left join triggers t on t.id = k.trigger_id
      join customers cu on cu.id = k.customer_id`;
  return row;
}

/** Why a row could not be claimed: its own status, its campaign's, and how far off its send_at is. */
export async function messageState(
  sql: Db,
  id: number,
): Promise<
  | { status: string; campaign_id: number | null; campaign_status: string | null; due_in_seconds: number }
  | undefined
> {
  const [row] = await sql<
    { status: string; campaign_id: number | null; campaign_status: string | null; due_in_seconds: number }[]
  >`
    select m.status, m.campaign_id, c.status as campaign_status,
      greatest(0, extract(epoch from coalesce(m.send_at, now()) - now()))::float8 as due_in_seconds
    from messages m left join campaigns c on c.id = m.campaign_id where m.id = ${id}`;
  return row;
}

/**
 * Everything that follows an accepted mail, as one statement (so one round trip and atomic
 * without a transaction): the row becomes `sent` unless something (a cancel) moved it meanwhile,
 * the `sent` contact event is appended, and one offer impression per (message, offer) is
 * recorded so that caps hold across campaigns and triggers. The event and impressions are
 * written only when the row was marked here, so a retry adds nothing. Returns whether it was.
 */
export async function recordSent(
  sql: Db,
  input: {
    id: number;
    smtpMessageId: string;
    reply: string | null;
    at: Date;
    data: Record<string, unknown>;
  },
): Promise<boolean> {
  const [row] = await sql<{ marked: number }[]>`
    with sent as (
      update messages set status = 'sent', sent_at = ${input.at}, smtp_message_id = ${input.smtpMessageId},
        smtp_reply = ${input.reply}, error = null, updated_at = now()
      where id = ${input.id} and status in ('queued', 'sending')
      returning id, customer_id, campaign_id, trigger_id, offer_ids
    ), event as (
      insert into contact_events (customer_id, kind, channel, message_id, campaign_id, trigger_id, machine, data, at)
      select customer_id, 'sent', 'email', id, campaign_id, trigger_id, false, ${sql.json(input.data as never)}, ${input.at}
      from sent
      on conflict do nothing
    ), impressions as (
      insert into offer_impressions (offer_id, customer_id, message_id, campaign_id, trigger_id, at)
      select distinct o, s.customer_id, s.id, s.campaign_id, s.trigger_id, ${input.at}::timestamptz
      from sent s, unnest(s.offer_ids) as o
      on conflict (message_id, offer_id) where message_id is not null do nothing
    )
    select count(*)::int as marked from sent`;
  return (row?.marked ?? 0) > 0;
}

/** Ends a row for good with the reason (a 5xx reply, a template that cannot render). */
export async function markFailed(
  sql: Db,
  id: number,
  input: { error: string; reply: string | null },
): Promise<boolean> {
  const rows = await sql`
    update messages set status = 'failed', error = ${input.error}, smtp_reply = ${input.reply}, updated_at = now()
    where id = ${id} and status in ('queued', 'sending') returning id`;
  return rows.length > 0;
}

/** Puts a claimed row back to queued after a temporary failure; its job retries later. */
export async function releaseForRetry(
  sql: Db,
  id: number,
  input: { error: string; reply: string | null },
): Promise<void> {
  await sql`
    update messages set status = 'queued', error = ${input.error}, smtp_reply = ${input.reply}, updated_at = now()
    where id = ${id} and status = 'sending'`;
}

/** Sets the status of a row that will not be sent (its campaign was cancelled, its customer erased). */
export async function markUnsendable(
  sql: Db,
  id: number,
  status: 'cancelled' | 'suppressed',
  reason: string | null,
): Promise<void> {
  await sql`
    update messages set status = ${status}, suppressed_reason = ${reason}, updated_at = now()
    where id = ${id} and status in ('queued', 'sending')`;
}

export interface OfferContent {
  id: number;
  name: string;
  title: string;
  text: string | null;
  image_url: string | null;
  url: string | null;
  code: string | null;
  category: string | null;
}

/** The content of offers by id (deleted ones too: a message shows what was decided). */
export async function offerContents(sql: Db, ids: number[]): Promise<OfferContent[]> {
  return sql<OfferContent[]>`
    select id, name, title, text, image_url, url, code, category from offers where id = any(${ids}::bigint[])`;
}

/** Throttled campaigns that may still send: each gets its own rate-limited send queue. */
export async function throttledCampaigns(sql: Db): Promise<{ id: number; throttle_per_second: number }[]> {
  return sql<{ id: number; throttle_per_second: number }[]>`
    select id, throttle_per_second from campaigns
    where throttle_per_second is not null and deleted_at is null and status in ('scheduled', 'sending', 'paused')`;
}
