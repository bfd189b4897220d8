import type { Db } from '../db/sql.js';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES, sendQueueFor } from '../queue/queues.js';
import { markEnqueued, unsentInIdOrder, unsentMessageIds, unsentSummary } from './ledger.js';

export interface SendJobData {
  /** The one message of a message's job; absent on a batch job. */
  message_id?: number;
  /** The messages of a batch job (a campaign's rows in id order), sent in one job. */
  message_ids?: number[];
  campaign_id: number | null;
  /** Set on about one job per quarter window: once it is processed, the campaign's window is topped up. */
  top_up?: boolean;
}

/** The job id of a message's send job (BullMQ refuses all-digit custom ids). */
export const sendJobId = (messageId: number) => `m${messageId}`;

/**
 * The job id of a batch of a campaign's rows, `b<first>-<last>-<count>`: deterministic (the same
 * rows handed over again make the same id, a no-op while the job lives), and the window reads
 * from it alone which rows a live job covers and how many, with no round trip per job.
 */
export const batchJobId = (messageIds: readonly number[]) =>
  `b${messageIds[0]}-${messageIds[messageIds.length - 1]}-${messageIds.length}`;

const BATCH_JOB_ID = /^b(\d+)-(\d+)-(\d+)$/;

/**
 * What live send jobs cover, from their ids alone: a message's job its row, a batch job the
 * range of rows from its first to its last (a row in that range but not in the batch was live
 * elsewhere when it was cut, so it is covered either way, at worst until the batch ends).
 */
export function jobCoverage(jobIds: Iterable<string>): { messages: number; covers: (id: number) => boolean } {
  const single = new Set<number>();
  const ranges: Array<[number, number]> = [];
  let messages = 0;
  for (const jobId of jobIds) {
    const batch = BATCH_JOB_ID.exec(jobId);
    if (batch) {
      ranges.push([Number(batch[1]), Number(batch[2])]);
      messages += Number(batch[3]);
      continue;
    }
    const one = /^m(\d+)$/.exec(jobId);
    if (one) single.add(Number(one[1]));
    messages += 1;
  }
  return { messages, covers: (id) => single.has(id) || ranges.some(([a, b]) => id >= a && id <= b) };
}

/** A campaign's send jobs, `size` rows a job (one job per row when `size` is 1). */
export function sendBatchJobs(campaignId: number, messageIds: readonly number[], size: number): JobRequest[] {
  if (size <= 1) return sendJobs(campaignId, messageIds);
  const out: JobRequest[] = [];
  for (let i = 0; i < messageIds.length; i += size) {
    const ids = messageIds.slice(i, i + size);
    out.push({
      name: 'send',
      data: { message_ids: ids, campaign_id: campaignId } satisfies SendJobData,
      opts: { jobId: batchJobId(ids) },
    });
  }
  return out;
}

/** Send jobs, job id = message id: adding one whose job still lives is a no-op in BullMQ. */
export function sendJobs(campaignId: number | null, messageIds: readonly number[]): JobRequest[] {
  return messageIds.map((id) => ({
    name: 'send',
    data: { message_id: id, campaign_id: campaignId } satisfies SendJobData,
    opts: { jobId: sendJobId(id) },
  }));
}

/**
 * The job of one row of a batch the contact policy held: its own message job, delayed until the
 * hold ends, which the reconciler's wake-up finds by its id like any held row's.
 */
export function heldSendJob(messageId: number, campaignId: number | null, delayMs: number): JobRequest {
  return {
    name: 'send',
    data: { message_id: messageId, campaign_id: campaignId } satisfies SendJobData,
    opts: { jobId: sendJobId(messageId), ...(delayMs > 0 ? { delay: delayMs } : {}) },
  };
}

/** Send jobs of automated messages: job id = message id, delayed until the row's send_at. */
export function delayedSendJobs(
  messages: readonly { id: number; send_at: Date | null }[],
  now: Date,
): JobRequest[] {
  return messages.map((m) => {
    const delay = m.send_at ? Math.max(0, m.send_at.getTime() - now.getTime()) : 0;
    return {
      name: 'send',
      data: { message_id: m.id, campaign_id: null } satisfies SendJobData,
      opts: { jobId: sendJobId(m.id), ...(delay > 0 ? { delay } : {}) },
    };
  });
}

/**
 * Hands automated messages (queued rows with a send_at) to the shared send queue, each job
 * delayed until its row is due, and notes them enqueued.
 */
export async function enqueueDelayedSends(
  sql: Db,
  jobs: JobDispatcher,
  messages: readonly { id: number; send_at: Date | null }[],
  now: Date,
): Promise<void> {
  if (messages.length === 0) return;
  await jobs.enqueue(QUEUES.send, delayedSendJobs(messages, now));
  await markEnqueued(
    sql,
    messages.map((m) => m.id),
  );
}

/**
 * Enqueues every row of a campaign still queued or sending, page by page, and notes when. Only
 * where there is no window store (no Redis to bound): elsewhere topUpSends hands rows over.
 */
export async function enqueueUnsent(
  sql: Db,
  jobs: JobDispatcher,
  campaign: { id: number; throttle_per_second: number | null },
  options: { pageSize?: number } = {},
): Promise<number> {
  const queue = sendQueueFor(campaign);
  let afterId = 0;
  let total = 0;
  for (;;) {
    const ids = await unsentMessageIds(sql, campaign.id, { afterId, limit: options.pageSize ?? 5000 });
    if (ids.length === 0) return total;
    afterId = ids[ids.length - 1]!;
    await jobs.enqueue(queue, sendJobs(campaign.id, ids));
    await markEnqueued(sql, ids);
    total += ids.length;
  }
}

/** A campaign's rows kept handed over per campaign by default: a few pages ahead of the senders. */
export const DEFAULT_SEND_WINDOW = 2000;

/**
 * Rows per send job of an unthrottled campaign by default: one BullMQ job (its moves, lock and
 * removal in Redis) for this many mails instead of one each. A throttled campaign keeps one job
 * per row, because BullMQ's rate limiter counts jobs.
 */
export const DEFAULT_SEND_BATCH = 50;

/** The window group of a campaign's send jobs. */
const windowGroup = (campaignId: number) => `c${campaignId}`;

/**
 * Back-pressure: hands a campaign's unsent rows to its send queue in id order until `window`
 * of its jobs are live, never more. Called after each planned page, by the senders on jobs
 * flagged `top_up` (about one per quarter window) and by the reconciler. A row whose job was
 * lost (Redis wiped, a worker killed) is handed over again: a wipe also loses the cursor, so
 * the scan starts over from the first unsent row; past the last row, when fewer jobs are live
 * than rows are unsent, it rescans. `rescan` starts from the first unsent row at once (resume,
 * the A/B winner's rows). Without a window store (no Redis) every unsent row is handed over.
 */
export async function topUpSends(
  sql: Db,
  jobs: JobDispatcher,
  campaign: { id: number; throttle_per_second: number | null },
  options: { window?: number | undefined; batch?: number | undefined; rescan?: boolean } = {},
): Promise<number> {
  const store = jobs.window;
  if (!store) return enqueueUnsent(sql, jobs, campaign);
  const size = options.window ?? DEFAULT_SEND_WINDOW;
  const batch = campaign.throttle_per_second ? 1 : Math.max(1, options.batch ?? DEFAULT_SEND_BATCH);
  const queue = sendQueueFor(campaign);
  const group = windowGroup(campaign.id);
  const release = await store.lock(group, 30_000);
  // Another top-up of this campaign is running: it fills the same window.
  if (!release) return 0;
  try {
    const live = jobCoverage(await store.live(queue, group));
    const room = size - live.messages;
    if (room <= 0) return 0;
    const picked: number[] = [];
    const seen = new Set<number>();
    const scan = async (from: number, limit: number) => {
      let after = from;
      for (;;) {
        const page = await unsentInIdOrder(sql, campaign.id, { afterId: after, limit });
        for (const id of page.ids) {
          if (live.covers(id) || seen.has(id) || picked.length >= room) continue;
          seen.add(id);
          picked.push(id);
        }
        after = page.ids.length > 0 ? page.ids[page.ids.length - 1]! : page.lastSeen;
        if (picked.length >= room || page.done) return { after, done: page.done };
      }
    };
    let from = options.rescan ? null : await store.cursor(group);
    if (from === null) {
      const { first } = await unsentSummary(sql, campaign.id);
      if (first === null) {
        await store.clear(group);
        return 0;
      }
      from = first - 1;
    }
    const { after, done: end } = await scan(from, room);
    const cursor = Math.max(from, after);
    if (end && picked.length < room) {
      // Past the last row: rows below the cursor whose jobs are gone are handed over again.
      const { first, count } = await unsentSummary(sql, campaign.id);
      if (first !== null && count > live.messages + picked.length) await scan(first - 1, room);
    }
    if (picked.length === 0) return 0;
    // In id order (the rescan's rows come after the scan's): a batch's id names its range.
    picked.sort((a, b) => a - b);
    const every = Math.max(1, Math.floor(size / batch / 4));
    const requests = sendBatchJobs(campaign.id, picked, batch).map((job, i, all) =>
      i % every === every - 1 || i === all.length - 1 ? { ...job, data: { ...job.data, top_up: true } } : job,
    );
    // Recorded before the add: a crash in between leaves ids without jobs, dropped next time.
    await store.add(
      group,
      requests.map((j) => j.opts!.jobId!),
    );
    await store.setCursor(group, cursor);
    await jobs.enqueue(queue, requests);
    await markEnqueued(sql, picked);
    return picked.length;
  } finally {
    await release();
  }
}
