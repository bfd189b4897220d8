import type { Db } from '../db/sql.js';
import type { JobDispatcher, JobRequest } from '../deps.js';
import { QUEUES, sendQueueFor } from '../queue/queues.js';
import { markEnqueued, unsentInIdOrder, unsentMessageIds, unsentSummary } from './ledger.js';

export interface SendJobData {
  message_id: number;
  campaign_id: number | null;
  /** Set on about one job per quarter window: once it is processed, the campaign's window is topped up. */
  top_up?: boolean;
}

/** The job id of a message's send job (BullMQ refuses all-digit custom ids). */
export const sendJobId = (messageId: number) => `m${messageId}`;

/** Send jobs, job id = message id: adding one whose job still lives is a no-op in BullMQ. */
export function sendJobs(campaignId: number | null, messageIds: readonly number[]): JobRequest[] {
  return messageIds.map((id) => ({
    name: 'send',
    data: { message_id: id, campaign_id: campaignId } satisfies SendJobData,
    opts: { jobId: sendJobId(id) },
  }));
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

/** Send jobs kept in Redis per campaign by default: a few pages ahead of the senders. */
export const DEFAULT_SEND_WINDOW = 2000;

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
  options: { window?: number | undefined; rescan?: boolean } = {},
): Promise<number> {
  const store = jobs.window;
  if (!store) return enqueueUnsent(sql, jobs, campaign);
  const size = options.window ?? DEFAULT_SEND_WINDOW;
  const queue = sendQueueFor(campaign);
  const group = windowGroup(campaign.id);
  const release = await store.lock(group, 30_000);
  // Another top-up of this campaign is running: it fills the same window.
  if (!release) return 0;
  try {
    const live = await store.live(queue, group);
    const room = size - live.size;
    if (room <= 0) return 0;
    const picked: number[] = [];
    const seen = new Set<number>();
    const scan = async (from: number, limit: number) => {
      let after = from;
      for (;;) {
        const page = await unsentInIdOrder(sql, campaign.id, { afterId: after, limit });
        for (const id of page.ids) {
          if (live.has(sendJobId(id)) || seen.has(id) || picked.length >= room) continue;
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
      if (first !== null && count > live.size + picked.length) await scan(first - 1, room);
    }
    if (picked.length === 0) return 0;
    const every = Math.max(1, Math.floor(size / 4));
    const requests = sendJobs(campaign.id, picked).map((job, i) =>
      i % every === every - 1 || i === picked.length - 1
        ? { ...job, data: { ...job.data, top_up: true } }
        : job,
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
