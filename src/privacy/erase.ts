import type { Db } from '../db/sql.js';
import { sendJobId } from '../messages/send-jobs.js';
import { emailHash } from '../messages/suppression.js';
import { QUEUES, sendQueueFor } from '../queue/queues.js';
import {
  cancelCustomerMessages,
  clearConsentIps,
  clearCustomerRow,
  clearMessageReplies,
  insertSuppressionHash,
  lockForErasure,
  pseudonymizeCustomerEvents,
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
}

/**
 * Erasure (right to be forgotten), in the caller's transaction: clears every personal field
 * (PERSONAL_FIELDS) of the customer, the free text and non-fact data of their contact history,
 * consent IPs and SMTP replies; keeps the rows (ids, kinds, amounts, statuses) so reports add
 * up under no identity; cancels unsent messages; and suppresses the address as a keyed hash so
 * a later import of the same address is never mailed. Erasing twice is harmless.
 */
export async function erasePersonalData(
  db: Db,
  input: { id: number; secret: string; at: Date },
): Promise<ErasureResult> {
  const before = await lockForErasure(db, input.id);
  if (!before) return { found: false, jobs: [], cancelledMessages: 0, eventsPseudonymized: 0 };
  if (before.email) await insertSuppressionHash(db, emailHash(input.secret, before.email), 'erased');
  await clearCustomerRow(db, input.id, input.at);
  await clearConsentIps(db, input.id);
  const eventsPseudonymized = await pseudonymizeCustomerEvents(db, input.id);
  await clearMessageReplies(db, input.id);
  const cancelled = await cancelCustomerMessages(db, input.id);
  return {
    found: true,
    cancelledMessages: cancelled.length,
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
