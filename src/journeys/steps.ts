import type { Db } from '../db/sql.js';
import type { CustomerContext } from '../rules/context.js';
import { branchOutcome, splitOutcome } from './decide.js';
import { type EntryRow, insertJourneyWebhook, setCustomerAttribute } from './entry-store.js';
import type { JourneyDeps } from './runner.js';
import type { Step } from './schema.js';

// The steps that move an entry on without holding it (all but the waits' arrivals), one entry
// at a time; send_email steps run batched in send-step.ts.

export interface StepInput {
  entry: EntryRow;
  step: Step;
  now: Date;
  seq: number;
  /** The customer's context when the step needed it (null: no such customer). */
  context: CustomerContext | null;
}

/** Runs one step that does not hold the customer; `next` null when the journey ends here. */
export async function runStep(
  tx: Db,
  deps: JourneyDeps,
  input: StepInput,
): Promise<{
  outcome: string;
  next: string | null;
  message?: { id: number; status: string; send_at: Date };
}> {
  const { entry, step, now } = input;
  switch (step.type) {
    case 'wait':
      return { outcome: 'waited', next: step.next };
    case 'wait_for_event':
      // Woken by its event (waiting_for cleared), or its timeout came.
      return entry.waiting_for === null
        ? { outcome: 'on_event', next: step.on_event }
        : { outcome: 'on_timeout', next: step.on_timeout };
    case 'branch': {
      const decision = branchOutcome(step, {
        customer: input.context,
        event: entry.event,
      });
      if (decision.error)
        deps.logger?.warn(
          { entry: entry.id, step: step.id, err: decision.error },
          'journey branch rule failed',
        );
      return decision;
    }
    case 'split':
      return splitOutcome(step, entry.journey_id, entry.customer_id);
    case 'send_email':
      // Batched by the caller (runSendSteps): never run here.
      throw new Error('send_email steps run in their batch');
    case 'update_attribute':
      await setCustomerAttribute(tx, entry.customer_id, step.key, step.value);
      return { outcome: 'updated', next: step.next };
    case 'webhook': {
      // The journey never waits for the receiver: the delivery is retried (and finally failed,
      // its endpoint disabled) by the webhook worker while the customer moves on.
      const written = await insertJourneyWebhook(tx, {
        endpoint_id: step.endpoint_id,
        customer_id: entry.customer_id,
        msg_id: `journey_${entry.id}_${input.seq}`,
        at: now,
        data: {
          journey_id: entry.journey_id,
          entry_id: entry.id,
          step: step.id,
          customer_id: entry.customer_id,
          event: entry.event,
        },
      });
      return { outcome: written ? 'delivered' : 'no_endpoint', next: step.next };
    }
    case 'exit':
      return { outcome: 'exit', next: null };
  }
}
