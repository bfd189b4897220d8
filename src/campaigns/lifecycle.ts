import type { Db, Sql } from '../db/sql.js';
import { AppError, conflict, type FieldError, invalid, notFound } from '../http/problem.js';
import { cancelQueuedMessages } from '../messages/ledger.js';
import { rankerColumns, rankerView } from '../offers/learning.js';
import type { MessageCategory } from '../policy/schema.js';
import { senderExists } from '../senders/store.js';
import { templateTextErrors } from '../templates/render.js';
import { cancelHeldMessages } from './ab-store.js';
import { abTestErrors } from './ab-test.js';
import type {
  AbTest,
  CampaignCreate,
  CampaignPatch,
  CampaignStatus,
  CampaignView,
  Variant,
} from './schema.js';
import {
  type CampaignRow,
  type CampaignWrite,
  existingTemplateVersions,
  findCampaign,
  insertCampaign,
  markCampaignDeleted,
  messageCounts,
  segmentRule,
  setCampaignStatus,
  templateLatestVersion,
  updateCampaignFields,
} from './store.js';
import { abStateOf } from './winner.js';

// The campaign lifecycle: draft → scheduled → sending → sent, with paused and cancelled.
// Each change is one transaction that only writes rows; enqueueing the jobs it implies is the
// caller's second step (the edge build has no queue: the reconciler enqueues for it).

const TRANSITIONS: Record<string, readonly CampaignStatus[]> = {
  launch: ['draft'],
  pause: ['scheduled', 'sending'],
  resume: ['paused'],
  cancel: ['draft', 'scheduled', 'sending', 'paused'],
};

export type Transition = keyof typeof TRANSITIONS;

export { effectiveVariants } from './variant.js';

function toWrite(input: CampaignCreate, base?: CampaignRow): CampaignWrite {
  const pick = <K extends keyof CampaignCreate>(key: K, fallback: unknown) =>
    input[key] !== undefined ? input[key] : fallback;
  const from =
    input.from !== undefined
      ? input.from
      : base
        ? { address: base.from_address, name: base.from_name }
        : null;
  return {
    name: input.name,
    segment_id: (pick('segment_id', base?.segment_id ?? null) as number | null) ?? null,
    template_id: (pick('template_id', base?.template_id ?? null) as number | null) ?? null,
    template_version: (pick('template_version', base?.template_version ?? null) as number | null) ?? null,
    offers_per_email: (pick('offers_per_email', base?.offers_per_email ?? 3) as number) ?? 3,
    variants: (pick('variants', base?.variants ?? []) as Variant[]) ?? [],
    schedule_at:
      input.schedule_at !== undefined
        ? input.schedule_at
          ? new Date(input.schedule_at)
          : null
        : (base?.schedule_at ?? null),
    throttle_per_second:
      (pick('throttle_per_second', base?.throttle_per_second ?? null) as number | null) ?? null,
    attribution: pick(
      'attribution',
      base?.attribution ?? { click_days: 7, open_days: 1 },
    ) as CampaignWrite['attribution'],
    from_address: from?.address ?? null,
    from_name: from?.name ?? null,
    sender_id: (pick('sender_id', base?.sender_id ?? null) as number | null) ?? null,
    ab_test: (pick('ab_test', base?.ab_test ?? null) as AbTest | null) ?? null,
    holdout_percent: (pick('holdout_percent', base?.holdout_percent ?? 0) as number) ?? 0,
    ...rankerColumns(input.ranker, base),
    send_at_best_hour: input.send_at_best_hour ?? base?.send_at_best_hour ?? false,
    category: (pick('category', base?.category ?? 'promotional') as MessageCategory) ?? 'promotional',
    priority: (pick('priority', base?.priority ?? 0) as number) ?? 0,
  };
}

/** Checks that what a campaign refers to exists, and its A/B test; names each bad field. */
async function checkReferences(sql: Db, w: CampaignWrite, input: Partial<CampaignCreate>): Promise<void> {
  const errors: FieldError[] = abTestErrors(w, { ab_test: input.ab_test !== undefined });
  w.variants.forEach((v, i) => {
    // Checked exactly as a template's subject is, so that what saves also sends.
    if (v.subject !== undefined)
      for (const e of templateTextErrors(v.subject, `variants.${i}.subject`))
        errors.push({ ...e, in: 'body' });
  });
  if (w.sender_id !== null && !(await senderExists(sql, w.sender_id))) {
    errors.push({ path: 'sender_id', in: 'body', message: `no sender ${w.sender_id}` });
  }
  if (w.segment_id !== null && (await segmentRule(sql, w.segment_id)) === undefined) {
    errors.push({ path: 'segment_id', in: 'body', message: `no segment ${w.segment_id}` });
  }
  if (w.template_id !== null) {
    const latest = await templateLatestVersion(sql, w.template_id);
    if (latest === undefined) {
      errors.push({ path: 'template_id', in: 'body', message: `no template ${w.template_id}` });
    } else {
      const wanted = [w.template_version, ...w.variants.map((v) => v.template_version)].filter(
        (v): v is number => typeof v === 'number',
      );
      const found = await existingTemplateVersions(sql, w.template_id, wanted);
      if (w.template_version !== null && !found.has(w.template_version)) {
        errors.push({
          path: 'template_version',
          in: 'body',
          message: `template ${w.template_id} has no version ${w.template_version}`,
        });
      }
      w.variants.forEach((v, i) => {
        if (v.template_version !== undefined && !found.has(v.template_version)) {
          errors.push({
            path: `variants.${i}.template_version`,
            in: 'body',
            message: `template ${w.template_id} has no version ${v.template_version}`,
          });
        }
      });
    }
  } else if (w.variants.some((v) => v.template_version !== undefined)) {
    errors.push({
      path: 'template_id',
      in: 'body',
      message: 'required when a variant names a template version',
    });
  }
  if (errors.length > 0) throw invalid(errors);
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The API view of a campaign row. */
export function campaignView(row: CampaignRow): CampaignView {
  return {
    id: row.id,
    name: row.name,
    segment_id: row.segment_id,
    template_id: row.template_id,
    template_version: row.template_version,
    offers_per_email: row.offers_per_email,
    variants: row.variants,
    schedule_at: iso(row.schedule_at),
    throttle_per_second: row.throttle_per_second,
    attribution: row.attribution,
    from: row.from_address
      ? { address: row.from_address, ...(row.from_name ? { name: row.from_name } : {}) }
      : null,
    sender_id: row.sender_id,
    holdout_percent: row.holdout_percent,
    ranker: rankerView(row),
    send_at_best_hour: row.send_at_best_hour,
    category: row.category,
    priority: row.priority,
    ab_test: row.ab_test,
    ab_state: abStateOf(row),
    status: row.status,
    launched_at: iso(row.launched_at),
    planned_at: iso(row.planned_at),
    finished_at: iso(row.finished_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function createCampaign(sql: Sql, input: CampaignCreate): Promise<CampaignRow> {
  return sql.begin(async (tx) => {
    const w = toWrite(input);
    await checkReferences(tx, w, input);
    return insertCampaign(tx, w);
  });
}

/**
 * Edits a campaign; only a draft may change (a launched campaign is what was sent), except its
 * A/B test, which may change until the campaign starts (scheduled: nothing is planned yet).
 */
export async function updateCampaign(sql: Sql, id: number, patch: CampaignPatch): Promise<CampaignRow> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    const onlyAbTest = 'ab_test' in patch && Object.keys(patch).every((key) => key === 'ab_test');
    if (row.status !== 'draft' && !(row.status === 'scheduled' && onlyAbTest)) {
      const detail = onlyAbTest
        ? `Campaign ${id} is ${row.status}; its A/B test can be edited only while draft or scheduled`
        : `Campaign ${id} is ${row.status}; only a draft can be edited`;
      throw conflict(detail, 'invalid-transition');
    }
    const w = toWrite({ ...patch, name: patch.name ?? row.name }, row);
    await checkReferences(tx, w, patch);
    return updateCampaignFields(tx, id, w);
  });
}

/** Deletes a campaign that is not in flight (draft, sent, cancelled). */
export async function deleteCampaign(sql: Sql, id: number): Promise<void> {
  await sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    if (!['draft', 'sent', 'cancelled'].includes(row.status)) {
      throw conflict(`Campaign ${id} is ${row.status}; cancel it before deleting it`, 'invalid-transition');
    }
    await markCampaignDeleted(tx, id);
  });
}

function assertTransition(row: CampaignRow, action: Transition): void {
  if (!TRANSITIONS[action]!.includes(row.status)) {
    throw new AppError(
      409,
      'invalid-transition',
      `Cannot ${action} campaign ${row.id}: it is ${row.status}`,
      undefined,
      {
        current_status: row.status,
      },
    );
  }
}

export interface TransitionResult {
  campaign: CampaignRow;
  /** Whether the planner should be enqueued (now, or delayed to schedule_at). */
  plan: boolean;
  /** Whether the rows still queued should be enqueued again (resume). */
  enqueueUnsent: boolean;
}

/**
 * Launches a draft: pins the template version (latest unless given), moves it to `sending`, or
 * `scheduled` when schedule_at is in the future. Rows only; the caller enqueues the planner.
 */
export async function launchCampaign(sql: Sql, id: number, now: Date): Promise<TransitionResult> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    assertTransition(row, 'launch');
    const errors: FieldError[] = [];
    if (row.segment_id === null)
      errors.push({ path: 'segment_id', message: 'a campaign needs a segment to launch' });
    if (row.template_id === null)
      errors.push({ path: 'template_id', message: 'a campaign needs a template to launch' });
    if (errors.length > 0) throw invalid(errors, 'The campaign cannot launch yet');
    let version = row.template_version;
    if (version === null) {
      const latest = await templateLatestVersion(tx, row.template_id!);
      if (!latest) throw invalid([{ path: 'template_id', message: 'the template has no version yet' }]);
      version = latest;
    }
    const scheduled = row.schedule_at !== null && row.schedule_at.getTime() > now.getTime();
    const campaign = await setCampaignStatus(tx, id, scheduled ? 'scheduled' : 'sending', {
      template_version: version,
      launched_at: now,
    });
    return { campaign, plan: true, enqueueUnsent: false };
  });
}

/** Pauses a scheduled or sending campaign: senders leave its rows queued until it resumes. */
export async function pauseCampaign(sql: Sql, id: number): Promise<TransitionResult> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    assertTransition(row, 'pause');
    return { campaign: await setCampaignStatus(tx, id, 'paused'), plan: false, enqueueUnsent: false };
  });
}

/** Resumes a paused campaign: back to scheduled (not due yet) or sending. */
export async function resumeCampaign(sql: Sql, id: number, now: Date): Promise<TransitionResult> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    assertTransition(row, 'resume');
    const scheduled =
      row.schedule_at !== null && row.schedule_at.getTime() > now.getTime() && row.planned_at === null;
    const campaign = await setCampaignStatus(tx, id, scheduled ? 'scheduled' : 'sending');
    return { campaign, plan: campaign.planned_at === null, enqueueUnsent: !scheduled };
  });
}

/** Cancels a campaign; rows not sent yet become `cancelled` in the same transaction. */
export async function cancelCampaign(sql: Sql, id: number, now: Date): Promise<TransitionResult> {
  return sql.begin(async (tx) => {
    const row = await findCampaign(tx, id, true);
    if (!row) throw notFound(`Campaign ${id}`);
    assertTransition(row, 'cancel');
    await cancelQueuedMessages(tx, id);
    // The rest of an A/B test's audience never gets the winner.
    await cancelHeldMessages(tx, id);
    return {
      campaign: await setCampaignStatus(tx, id, 'cancelled', { finished_at: now }),
      plan: false,
      enqueueUnsent: false,
    };
  });
}

export interface Progress {
  total: number;
  counts: Record<string, number>;
  suppressed_reasons: Record<string, number>;
  rate_per_second: number;
  planned: boolean;
}

/** Counts of a campaign's messages by status, suppression reasons, and the send rate. */
export async function campaignProgress(sql: Db, row: CampaignRow): Promise<Progress> {
  const counts: Record<string, number> = {
    queued: 0,
    sending: 0,
    sent: 0,
    failed: 0,
    suppressed: 0,
    cancelled: 0,
    held: 0,
  };
  const reasons: Record<string, number> = {};
  let total = 0;
  let recent = 0;
  for (const r of await messageCounts(sql, row.id)) {
    counts[r.status] = (counts[r.status] ?? 0) + r.n;
    if (r.status === 'suppressed' && r.reason) reasons[r.reason] = (reasons[r.reason] ?? 0) + r.n;
    total += r.n;
    recent += r.recent;
  }
  return {
    total,
    counts,
    suppressed_reasons: reasons,
    rate_per_second: recent / 10,
    planned: row.planned_at !== null,
  };
}
