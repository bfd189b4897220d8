import type { Db } from '../db/sql.js';
import { deleteCustomerEvents } from '../events/store.js';
import { sendJobId } from '../messages/send-jobs.js';
import { emailHash } from '../messages/suppression.js';
import { QUEUES, sendQueueFor } from '../queue/queues.js';
import {
  cancelCustomerMessages,
  clearConsentDetails,
  clearCustomerRow,
  clearMessageReplies,
  dropOutboxEvents,
  insertSuppressionHash,
  lockForErasure,
  pseudonymizeCustomerEvents,
  selectLinkedLeads,
} from './store.js';

/** A queued job to take off its queue: job id = send job id of a cancelled message. */
export interface JobToPurge {
  queue: string;
  jobId: string;
}

export interface ErasureResult {
  /** False when there is no such customer. */
  found: boolean;
  /** Send jobs of the cancelled messages: remove them once the erasure has committed. */
  jobs: JobToPurge[];
  cancelledMessages: number;
  eventsPseudonymized: number;
  /** Social leads of the person's handles, erased with them. */
  leadsErased: number[];
}

/**
 * Erasure (right to be forgotten), in the caller's transaction: clears every personal field
 * (PERSONAL_FIELDS) of the customer, the free text and non-fact data of their contact history,
 * consent IPs, sources and text versions, SMTP replies, and their trigger events not yet
 * queued; keeps the rows (ids, kinds, amounts, statuses) so reports add up under no identity;
 * cancels unsent messages; and suppresses the address as a keyed hash so a later import of the
 * same address is never mailed. The social leads of the person's handles (messages that came
 * before the handle was on the profile) are erased the same way. Erasing twice is harmless.
 */
export async function erasePersonalData(
  db: Db,
  input: { id: number; secret: string; at: Date },
): Promise<ErasureResult> {
  const before = await lockForErasure(db, input.id);
  if (!before)
    return { found: false, jobs: [], cancelledMessages: 0, eventsPseudonymized: 0, leadsErased: [] };
  // Read before the row is cleared: the handles are what links the leads.
  const leads = await selectLinkedLeads(db, input.id);
  const result: ErasureResult = {
    found: true,
    jobs: [],
    cancelledMessages: 0,
    eventsPseudonymized: 0,
    leadsErased: leads,
  };
  for (const id of [input.id, ...leads]) {
    const row = id === input.id ? before : await lockForErasure(db, id);
    if (row?.email) await insertSuppressionHash(db, emailHash(input.secret, row.email), 'erased');
    const one = await eraseOne(db, id, input.at);
    result.jobs.push(...one.jobs);
    result.cancelledMessages += one.jobs.length;
    result.eventsPseudonymized += one.eventsPseudonymized;
  }
  await dropOutboxEvents(db, [input.id, ...leads]);
  return result;
}

/** Clears one customer row and what hangs off it. */
async function eraseOne(db: Db, id: number, at: Date) {
  await clearCustomerRow(db, id, at);
  await clearConsentDetails(db, id);
  const eventsPseudonymized = await pseudonymizeCustomerEvents(db, id);
  // Custom events' properties may describe the person: they go, with the anonymous ids.
  await deleteCustomerEvents(db, id);
  await clearMessageReplies(db, id);
  const cancelled = await cancelCustomerMessages(db, id);
  return {
    eventsPseudonymized,
    jobs: cancelled.map((m) => ({
      queue:
        m.campaign_id === null
          ? QUEUES.send
          : sendQueueFor({ id: m.campaign_id, throttle_per_second: m.throttle_per_second }),
      jobId: sendJobId(m.id),
    })),
  };
}
